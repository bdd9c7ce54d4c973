package cellib

import (
	"strings"
	"testing"
	"time"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/ext"
)

// testNow is the request time used by the tests; it is the clock of the Cerbos
// cel_eval conformance cases.
var testNow = time.Date(2021, 4, 22, 10, 5, 20, 21_000_000, time.FixedZone("", -5*3600))

// newTestEnv builds an environment like the engine's: the extensions Cerbos
// enables plus this library, with P, R and request as dynamic maps.
func newTestEnv(t testing.TB) *cel.Env {
	t.Helper()
	opts := []cel.EnvOption{
		cel.OptionalTypes(),
		cel.CrossTypeNumericComparisons(true),
		ext.Bindings(),
		ext.Encoders(),
		ext.Lists(),
		ext.Math(),
		ext.Sets(),
		ext.Strings(),
		ext.TwoVarComprehensions(),
		cel.Variable("request", cel.MapType(cel.StringType, cel.DynType)),
		cel.Variable("P", cel.MapType(cel.StringType, cel.DynType)),
		cel.Variable("R", cel.MapType(cel.StringType, cel.DynType)),
		Library(),
	}
	opts = append(opts, Macros()...)
	opts = append(opts, Declarations()...)
	env, err := cel.NewEnv(opts...)
	if err != nil {
		t.Fatalf("creating environment: %v", err)
	}
	return env
}

// evalResult is the outcome of one expression: a compile error, a run-time
// error or a value.
type evalResult struct {
	compileErr string
	evalErr    string
	val        ref.Val
}

// eval compiles and runs expr with the given variables (NowIdent is bound to
// testNow unless vars sets it), under a generous cost limit.
func eval(t testing.TB, env *cel.Env, expr string, vars map[string]any) evalResult {
	t.Helper()
	ast, iss := env.Compile(expr)
	if iss.Err() != nil {
		return evalResult{compileErr: iss.Err().Error()}
	}
	prg, err := env.Program(ast, cel.CostLimit(1_000_000))
	if err != nil {
		t.Fatalf("%s: building program: %v", expr, err)
	}
	act := map[string]any{NowIdent: testNow}
	for k, v := range vars {
		act[k] = v
	}
	val, _, err := prg.Eval(act)
	if err != nil {
		return evalResult{evalErr: err.Error()}
	}
	return evalResult{val: val}
}

// celCase is one table row: the expression, and what it must give.
type celCase struct {
	expr string
	// want is compared with CEL equality; a string is compared as a CEL string.
	want any
	// wantErr, if set, is a substring of the expected run-time error.
	wantErr string
	// wantCompileErr, if set, is a substring of the expected compile error.
	wantCompileErr string
}

// runCases checks each case in its own subtest.
func runCases(t *testing.T, cases []celCase) {
	t.Helper()
	env := newTestEnv(t)
	for _, tc := range cases {
		t.Run(tc.expr, func(t *testing.T) {
			checkCase(t, env, tc, nil)
		})
	}
}

func checkCase(t *testing.T, env *cel.Env, tc celCase, vars map[string]any) {
	t.Helper()
	got := eval(t, env, tc.expr, vars)
	switch {
	case tc.wantCompileErr != "":
		if !strings.Contains(got.compileErr, tc.wantCompileErr) {
			t.Fatalf("%s: compile error = %q, want it to contain %q (value %v, eval error %q)",
				tc.expr, got.compileErr, tc.wantCompileErr, got.val, got.evalErr)
		}
	case got.compileErr != "":
		t.Fatalf("%s: unexpected compile error: %s", tc.expr, got.compileErr)
	case tc.wantErr != "":
		if !strings.Contains(got.evalErr, tc.wantErr) {
			t.Fatalf("%s: eval error = %q, want it to contain %q (value %v)", tc.expr, got.evalErr, tc.wantErr, got.val)
		}
	case got.evalErr != "":
		t.Fatalf("%s: unexpected eval error: %s", tc.expr, got.evalErr)
	default:
		want := types.DefaultTypeAdapter.NativeToValue(tc.want)
		if eq := got.val.Equal(want); eq != types.True {
			t.Fatalf("%s = %v (%s), want %v (%s)", tc.expr, got.val, got.val.Type().TypeName(), want, want.Type().TypeName())
		}
	}
}
