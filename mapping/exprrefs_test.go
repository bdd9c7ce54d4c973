package mapping

import (
	"reflect"
	"testing"
)

func TestBodyReaders(t *testing.T) {
	for _, tc := range []struct {
		expr string
		want bool
	}{
		{`request.body.size > 3`, true},
		{`request.?body.orValue(null) == null`, true},
		{`has(request.body.title)`, true},
		{`request["body"]`, true},
		{`request.?body`, true},
		{`request.headers["body"]`, false},
		{`context.body`, false},
		{`request.path`, false},
		{`"request.body"`, false},
		{`request.body(`, false}, // does not parse
	} {
		if got := readsBody(tc.expr); got != tc.want {
			t.Errorf("readsBody(%q) = %v, want %v", tc.expr, got, tc.want)
		}
	}
	c := Config{
		Identity: IdentityConfig{Sources: []Source{
			{JWT: &JWTSource{Principal: PrincipalExprs{ID: "claims.sub", Attr: map[string]string{"b": "request.body.x", "a": "claims.a"}}}},
		}},
		Routes: []Route{
			{Match: RouteMatch{When: `request.method == "GET"`}},
			{Resource: ResourceExprs{KindExpr: `context.kind`, Attr: map[string]string{"z": "request.body.z", "c": "request.?body.c"}}, ActionExpr: `request.body.op`},
		},
	}
	want := []string{
		"identity.sources[0].jwt.principal.attr.b",
		"routes[1].resource.attr.c",
		"routes[1].resource.attr.z",
		"routes[1].actionExpr",
	}
	if got := c.BodyReaders(); !reflect.DeepEqual(got, want) {
		t.Errorf("BodyReaders() = %q, want %q", got, want)
	}
}
