package cellib

import (
	"strings"
	"testing"
	"time"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types"
)

func TestIdentity(t *testing.T) {
	runCases(t, []celCase{
		{expr: `id(1) + 1`, want: 2},
		{expr: `id("a")`, want: "a"},
		{expr: `id(null) == null`, want: true},
		{expr: `id([1,2]).size()`, want: 2},
		{expr: `id(hierarchy("a.b")).size()`, want: 2},
		{expr: `type(id(spiffeTrustDomain("a"))) == type(spiffeTrustDomain("b"))`, want: true},
		{expr: `id("a") + 1`, wantErr: "no such overload"},
		{expr: `id()`, wantCompileErr: "found no matching overload for 'id'"},
		{expr: `"x".id()`, wantCompileErr: "found no matching overload for 'id'"},
	})
}

func TestNowMacros(t *testing.T) {
	runCases(t, []celCase{
		{expr: `now() == timestamp("2021-04-22T10:05:20.021-05:00")`, want: true},
		{expr: `now() == now()`, want: true},
		{expr: `type(now()) == google.protobuf.Timestamp`, want: true},
		{expr: `timeSince(timestamp("2021-04-20T10:05:20.021-05:00")) == duration("48h")`, want: true},
		{expr: `timestamp("2021-04-20T10:05:20.021-05:00").timeSince() == duration("48h")`, want: true},
		{expr: `[timestamp("2021-04-22T10:05:19.021-05:00")].map(t, t.timeSince()) == [duration("1s")]`, want: true},
		{expr: `cel.bind(t, now(), t.timeSince()) == duration("0s")`, want: true},
		{expr: `timeSince(dyn("2021-04-20T10:05:20Z"))`, wantErr: "no such overload"},
		{expr: `now(1)`, wantCompileErr: "undeclared reference to 'now'"},
		{expr: `timeSince()`, wantCompileErr: "undeclared reference to 'timeSince'"},
		{expr: `timeSince(1)`, wantCompileErr: "found no matching overload for '_-_'"},
	})
}

func TestNowIsBoundPerEvaluation(t *testing.T) {
	env := newTestEnv(t)
	later := testNow.Add(time.Hour)
	got := eval(t, env, `timeSince(timestamp("2021-04-22T10:05:20.021-05:00"))`, map[string]any{NowIdent: later})
	if got.val == nil || got.val.Equal(types.Duration{Duration: time.Hour}) != types.True {
		t.Fatalf("got %+v, want 1h", got)
	}
}

func TestMacrosNeedDeclarations(t *testing.T) {
	env, err := cel.NewEnv(append(Macros(), Library())...)
	if err != nil {
		t.Fatal(err)
	}
	if _, iss := env.Compile(`now()`); iss.Err() == nil || !strings.Contains(iss.Err().Error(), NowIdent) {
		t.Fatalf("compiling now() without Declarations: %v, want an undeclared %s", iss.Err(), NowIdent)
	}
}

func TestLibraryIsIdempotent(t *testing.T) {
	env, err := cel.NewEnv(Library(), Library())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := env.Extend(Library()); err != nil {
		t.Fatal(err)
	}
	ast, iss := env.Compile(`hierarchy("a.b").size() == 2 && id(1) == 1`)
	if iss.Err() != nil {
		t.Fatal(iss.Err())
	}
	prg, err := env.Program(ast)
	if err != nil {
		t.Fatal(err)
	}
	if out, _, err := prg.Eval(cel.NoVars()); err != nil || out != types.True {
		t.Fatalf("got %v, %v", out, err)
	}
}

// Every overload with a cost model must be declared, or its cost would
// silently not apply.
func TestCostModelsNameDeclaredOverloads(t *testing.T) {
	declared := map[string]bool{}
	for _, fn := range newTestEnv(t).Functions() {
		for _, o := range fn.OverloadDecls() {
			declared[o.ID()] = true
		}
	}
	for id := range overloadCosts {
		if !declared[id] {
			t.Errorf("cost model for undeclared overload %q", id)
		}
	}
}
