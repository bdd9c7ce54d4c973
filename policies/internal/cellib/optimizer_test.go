package cellib

import (
	"testing"

	"github.com/google/cel-go/cel"
)

// The engine folds constants at load time; calls of this library with
// constant arguments must survive that, including those that fail or return a
// custom value, and still evaluate as without folding.
func TestConstantFolding(t *testing.T) {
	env := newTestEnv(t)
	folder, err := cel.NewConstantFoldingOptimizer()
	if err != nil {
		t.Fatal(err)
	}
	opt, err := cel.NewStaticOptimizer(folder)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []celCase{
		{expr: `hierarchy("a.b").ancestorOf(hierarchy("a.b.c"))`, want: true},
		{expr: `hierarchy("a.b.c")[1]`, want: "b"},
		{expr: `hierarchy("a.b").commonAncestors(hierarchy("a.c")).size()`, want: 1},
		{expr: `hierarchy("a") == hierarchy("a")`, want: true},
		{expr: `spiffeID("spiffe://a/b").trustDomain().name()`, want: "a"},
		{expr: `spiffeTrustDomain("a").id() == "spiffe://a"`, want: true},
		{expr: `spiffeMatchAny().matchesID("spiffe://a/b")`, want: true},
		{expr: `intersect([3,2,1],[1,2]) == [1,2]`, want: true},
		{expr: `dirPath("C:\\a\\b")`, want: `C:\a`},
		{expr: `dirPath("a\\") == ""`, wantErr: "slice bounds out of range"},
		{expr: `"x".inIPAddrRange("1.2.3.0/24")`, wantErr: "invalid IP address: x"},
		{expr: `now() == now()`, want: true},
		{expr: `timeSince(now()) == duration("0s")`, want: true},
	} {
		ast, iss := env.Compile(tc.expr)
		if iss.Err() != nil {
			t.Fatalf("%s: %v", tc.expr, iss.Err())
		}
		folded, iss := opt.Optimize(env, ast)
		if iss.Err() != nil {
			t.Fatalf("%s: folding: %v", tc.expr, iss.Err())
		}
		source, err := cel.AstToString(folded)
		if err != nil {
			t.Fatalf("%s: %v", tc.expr, err)
		}
		t.Run(tc.expr, func(t *testing.T) {
			tc.expr = source
			checkCase(t, env, tc, nil)
		})
	}
}
