package cellib

import (
	"reflect"
	"testing"

	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
)

// Behaviour verified against Cerbos 0.55.0 (see also testdata/cerbos_repl.tsv).
func TestSPIFFEFunctions(t *testing.T) {
	runCases(t, []celCase{
		{expr: `spiffeID("spiffe://example.org/a/b").path()`, want: "/a/b"},
		{expr: `spiffeID("spiffe://example.org").path()`, want: ""},
		{expr: `spiffeID("spiffe://example.org/a/b").trustDomain().name()`, want: "example.org"},
		{expr: `spiffeID("spiffe://example.org/.a/..b/...").path()`, want: "/.a/..b/..."},
		{expr: `spiffeID("spiffe://ex_am-ple.0rg/A-Z_.0").path()`, want: "/A-Z_.0"},
		{expr: `spiffeID("spiffe://a/b") == spiffeID("spiffe://a/b")`, want: true},
		{expr: `spiffeID("spiffe://a/b") == spiffeID("spiffe://a/c")`, want: false},
		{expr: `spiffeID("spiffe://a/b") == dyn("spiffe://a/b")`, want: true},
		{expr: `spiffeID("spiffe://a/b") == dyn("bad")`, want: false},
		{expr: `spiffeID("spiffe://a/b") == dyn(1)`, wantErr: "no such overload"},
		{expr: `spiffeID("spiffe://a/b") == "spiffe://a/b"`, wantCompileErr: "found no matching overload for '_==_'"},
		{expr: `string(spiffeID("spiffe://a/b"))`, wantCompileErr: "found no matching overload for 'string'"},
		{expr: `spiffeID("spiffe://a/b") in [spiffeID("spiffe://a/b")]`, want: true},
		// Parse errors, in the order they are detected.
		{expr: `spiffeID("")`, wantErr: "failed to parse SPIFFE ID: cannot be empty"},
		{expr: `spiffeID("SPIFFE://example.org/a")`, wantErr: "failed to parse SPIFFE ID: scheme is missing or invalid"},
		{expr: `spiffeID("spiffe:/")`, wantErr: "scheme is missing or invalid"},
		{expr: `spiffeID("spiffe://")`, wantErr: "failed to parse SPIFFE ID: trust domain is missing"},
		{expr: `spiffeID("spiffe:///a")`, wantErr: "trust domain is missing"},
		{expr: `spiffeID("spiffe://Example.org/a")`, wantErr: "trust domain characters are limited to lowercase letters, numbers, dots, dashes, and underscores"},
		{expr: `spiffeID("spiffe://example.org:80/a")`, wantErr: "trust domain characters are limited"},
		{expr: `spiffeID("spiffe://u@example.org/a")`, wantErr: "trust domain characters are limited"},
		{expr: `spiffeID("spiffe://EX/a b")`, wantErr: "trust domain characters are limited"},
		{expr: `spiffeID("spiffe://example.org/")`, wantErr: "path cannot have a trailing slash"},
		{expr: `spiffeID("spiffe://example.org//")`, wantErr: "path cannot contain empty segments"},
		{expr: `spiffeID("spiffe://example.org//a")`, wantErr: "path cannot contain empty segments"},
		{expr: `spiffeID("spiffe://example.org/./a")`, wantErr: "path cannot contain dot segments"},
		{expr: `spiffeID("spiffe://example.org/a/..")`, wantErr: "path cannot contain dot segments"},
		{expr: `spiffeID("spiffe://example.org/a b/")`, wantErr: "path segment characters are limited to letters, numbers, dots, dashes, and underscores"},
		{expr: `spiffeID("spiffe://example.org/a?x=1")`, wantErr: "path segment characters are limited"},
		{expr: `spiffeID("spiffe://example.org/%41")`, wantErr: "path segment characters are limited"},
		{expr: `spiffeID(dyn(1))`, wantErr: "no such overload: spiffeID(int)"},
		// Trust domains accept a name or any SPIFFE ID.
		{expr: `spiffeTrustDomain("example.org").name()`, want: "example.org"},
		{expr: `spiffeTrustDomain("spiffe://example.org").name()`, want: "example.org"},
		{expr: `spiffeTrustDomain("spiffe://example.org/a").name()`, want: "example.org"},
		{expr: `spiffeTrustDomain("example.org") == spiffeTrustDomain("spiffe://example.org")`, want: true},
		{expr: `spiffeID("spiffe://a/b").trustDomain() == spiffeTrustDomain("a")`, want: true},
		{expr: `spiffeTrustDomain("a") == dyn("spiffe://a/b")`, want: true},
		{expr: `spiffeTrustDomain("a") == dyn("bad!")`, want: false},
		{expr: `spiffeTrustDomain("a") == dyn(spiffeID("spiffe://a"))`, wantErr: "no such overload"},
		{expr: `spiffeTrustDomain("")`, wantErr: "failed to parse SPIFFE trust domain: trust domain is missing"},
		{expr: `spiffeTrustDomain("Example.org")`, wantErr: "failed to parse SPIFFE trust domain: trust domain characters are limited"},
		{expr: `spiffeTrustDomain("example.org/")`, wantErr: "trust domain characters are limited"},
		{expr: `spiffeTrustDomain("a:/b")`, wantErr: "failed to parse SPIFFE trust domain: scheme is missing or invalid"},
		{expr: `spiffeTrustDomain("spiffe://example.org/")`, wantErr: "path cannot have a trailing slash"},
		// td.id() is the trust domain itself (Cerbos dispatches it to id(x)),
		// which compares equal to both spellings of the trust domain.
		{expr: `spiffeTrustDomain("a").id() == "spiffe://a"`, want: true},
		{expr: `spiffeTrustDomain("a").id() == "a"`, want: true},
		{expr: `spiffeTrustDomain("a").id() in ["spiffe://a"]`, want: true},
		{expr: `"spiffe://a" == spiffeTrustDomain("a").id()`, want: false},
		{expr: `spiffeTrustDomain("a").id().startsWith("spiffe")`, wantErr: "no such overload"},
		{expr: `spiffeTrustDomain("a").id().name()`, wantCompileErr: "found no matching overload for 'name'"},
		// isMemberOf.
		{expr: `spiffeID("spiffe://example.org/a/b").isMemberOf(spiffeTrustDomain("example.org"))`, want: true},
		{expr: `spiffeID("spiffe://example.org/a/b").isMemberOf(spiffeTrustDomain("other.org"))`, want: false},
		{expr: `spiffeID("spiffe://example.org/a").isMemberOf("example.org")`, wantCompileErr: "found no matching overload for 'isMemberOf'"},
		{expr: `spiffeID("spiffe://a/b").isMemberOf(dyn(1))`, wantErr: "no such overload"},
		// Matchers.
		{expr: `spiffeMatchAny().matchesID(spiffeID("spiffe://a/b"))`, want: true},
		{expr: `spiffeMatchAny().matchesID("spiffe://a/b")`, want: true},
		{expr: `spiffeMatchAny().matchesID("bad")`, wantErr: "invalid SPIFFE ID: scheme is missing or invalid"},
		{expr: `spiffeMatchAny().matchesID("spiffe://a/")`, wantErr: "invalid SPIFFE ID: path cannot have a trailing slash"},
		{expr: `spiffeMatchAny().matchesID(dyn(1))`, wantErr: "no such overload"},
		{expr: `spiffeMatchExact(spiffeID("spiffe://a/b")).matchesID("spiffe://a/b")`, want: true},
		{expr: `spiffeMatchExact("spiffe://a/b").matchesID("spiffe://a/c")`, want: false},
		{expr: `spiffeMatchExact("bad")`, wantErr: "failed to parse SPIFFE ID: scheme is missing or invalid"},
		{expr: `spiffeMatchExact(dyn(1))`, wantErr: "no such overload: spiffeMatchExact(int)"},
		{expr: `spiffeMatchOneOf(["spiffe://a/b", "spiffe://a/c"]).matchesID("spiffe://a/c")`, want: true},
		{expr: `spiffeMatchOneOf(["spiffe://a/b", "spiffe://a/c"]).matchesID("spiffe://a/d")`, want: false},
		{expr: `spiffeMatchOneOf([spiffeID("spiffe://a/c"), "spiffe://a/b"]).matchesID("spiffe://a/b")`, want: true},
		{expr: `spiffeMatchOneOf([]).matchesID("spiffe://a/b")`, want: false},
		{expr: `spiffeMatchOneOf(["spiffe://a/b", "bad"])`, wantErr: "no such overload"},
		{expr: `spiffeMatchOneOf(dyn([1]))`, wantErr: "no such overload: spiffeMatchOneOf(list)"},
		{expr: `spiffeMatchOneOf([1])`, wantCompileErr: "found no matching overload for 'spiffeMatchOneOf'"},
		{expr: `spiffeMatchTrustDomain("a").matchesID("spiffe://a/b")`, want: true},
		{expr: `spiffeMatchTrustDomain(spiffeTrustDomain("a")).matchesID(spiffeID("spiffe://a"))`, want: true},
		{expr: `spiffeMatchTrustDomain("spiffe://a").matchesID("spiffe://b/b")`, want: false},
		{expr: `spiffeMatchTrustDomain("BAD")`, wantErr: "failed to parse SPIFFE trust domain"},
		{expr: `spiffeMatchExact("spiffe://a/b").matchesID(1)`, wantCompileErr: "found no matching overload for 'matchesID'"},
		// Matchers are never equal, not even to themselves.
		{expr: `spiffeMatchAny() == spiffeMatchAny()`, want: false},
		{expr: `dyn(spiffeMatchAny()) == dyn("x")`, want: false},
	})
}

func TestParseSPIFFEID(t *testing.T) {
	id, err := parseSPIFFEID("spiffe://example.org/ns/prod/sa/web")
	if err != nil {
		t.Fatal(err)
	}
	want := spiffeID{trustDomain: "example.org", path: "/ns/prod/sa/web"}
	if id != want || id.String() != "spiffe://example.org/ns/prod/sa/web" {
		t.Errorf("got %+v (%s), want %+v", id, id, want)
	}
}

func TestSPIFFEValues(t *testing.T) {
	id := SPIFFEID{id: spiffeID{trustDomain: "a", path: "/b"}}
	td := SPIFFETrustDomain{name: "a"}
	m := spiffeMatcher{}
	for _, tc := range []struct {
		val interface {
			ConvertToNative(reflect.Type) (any, error)
		}
		wantErr string
	}{
		{val: id, wantErr: "unsupported native conversion from SPIFFEID to 'string'"},
		{val: td, wantErr: "unsupported native conversion from SPIFFETrustDomain to 'string'"},
		{val: m, wantErr: "unsupported native conversion from SPIFFEMatcher to 'string'"},
	} {
		if _, err := tc.val.ConvertToNative(reflect.TypeFor[string]()); err == nil || err.Error() != tc.wantErr {
			t.Errorf("ConvertToNative error = %v, want %q", err, tc.wantErr)
		}
	}
	if id.Value() != "spiffe://a/b" || td.Value() != "a" {
		t.Errorf("Value() = %v, %v", id.Value(), td.Value())
	}
	if got := id.ConvertToType(types.TypeType); got != SPIFFEIDType {
		t.Errorf("ConvertToType(type) = %v", got)
	}
	if got := td.ConvertToType(types.StringType); !types.IsError(got) {
		t.Errorf("ConvertToType(string) = %v, want an error", got)
	}
	for _, got := range []ref.Val{id.Receive("nosuch", "", nil), td.Receive("nosuch", "", nil), m.Receive("matchesID", "", nil)} {
		if !types.IsError(got) {
			t.Errorf("Receive = %v, want an error", got)
		}
	}
	if got := td.Receive("id", "", nil); got != td {
		t.Errorf(`Receive("id") = %v, want the trust domain`, got)
	}
}
