package cellib

import (
	"math"
	"strings"
	"testing"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/checker"
)

// noSizes is a checker.CostEstimator that knows nothing about variables.
type noSizes struct{}

func (noSizes) EstimateSize(checker.AstNode) *checker.SizeEstimate { return nil }
func (noSizes) EstimateCallCost(string, string, *checker.AstNode, []checker.AstNode) *checker.CallEstimate {
	return nil
}

func TestRuntimeCostLimit(t *testing.T) {
	env := newTestEnv(t)
	for _, tc := range []struct {
		expr     string
		limit    uint64
		exceeded bool
	}{
		// Nested loops over two lists of 2000 elements cost about 4 million.
		{expr: `lists.range(2000).except(lists.range(2000)).size() == 0`, limit: 1_000_000, exceeded: true},
		{expr: `isSubset(lists.range(2000), lists.range(2000))`, limit: 1_000_000, exceeded: true},
		{expr: `lists.range(200).intersect(lists.range(200)).size() == 200`, limit: 1_000_000},
		{expr: `pathMatch("/a/b/c", "/a/*/c")`, limit: 10},
		{expr: `hierarchy("a.b.c").ancestorOf(hierarchy("a.b.c.d"))`, limit: 20},
		{expr: `spiffeID("spiffe://example.org/a").isMemberOf(spiffeTrustDomain("example.org"))`, limit: 20},
	} {
		ast, iss := env.Compile(tc.expr)
		if iss.Err() != nil {
			t.Fatal(iss.Err())
		}
		prg, err := env.Program(ast, cel.CostLimit(tc.limit), cel.CostTracking(nil))
		if err != nil {
			t.Fatal(err)
		}
		out, det, err := prg.Eval(map[string]any{NowIdent: testNow})
		gotExceeded := err != nil && strings.Contains(err.Error(), "cost limit exceeded")
		if gotExceeded != tc.exceeded || (err != nil && !gotExceeded) {
			t.Errorf("%s: got %v, %v (cost %v); want limit exceeded = %v", tc.expr, out, err, det.ActualCost(), tc.exceeded)
		}
	}
}

func TestStaticCostEstimates(t *testing.T) {
	env := newTestEnv(t)
	bounded := []string{
		`except([1,2,3], [2]) == [1,3]`,
		`["a","b"].intersect(["b"]).size() == 1`,
		`hasIntersection([1], [1]) && isSubset([1], [1, 2])`,
		`"1.2.3.4".inIPAddrRange("1.2.3.0/24")`,
		`hierarchy("a.b").ancestorOf(hierarchy(["a", "b", "c"]))`,
		`basePath("/a/b") + dirPath("/a/b") + extPath("a.b") + volumeName("C:")`,
		`joinPath(["a", "b"]) == relPath("/a", "/a/b")`,
		`pathHasPrefix("/a/b", "/a") && pathMatch("/a/b", "/a/*") && "/a".pathMatchAnyOf(["/*"])`,
		`spiffeMatchOneOf(["spiffe://a/b"]).matchesID("spiffe://a/b")`,
	}
	for _, expr := range bounded {
		ast, iss := env.Compile(expr)
		if iss.Err() != nil {
			t.Fatal(iss.Err())
		}
		est, err := env.EstimateCost(ast, noSizes{})
		if err != nil {
			t.Fatalf("%s: %v", expr, err)
		}
		if est.Max == 0 || est.Max > 10_000 {
			t.Errorf("%s: estimated cost %+v, want a small bounded cost", expr, est)
		}
	}
	// Inputs of unknown size give an unbounded estimate, as for cel-go's own
	// string and list functions.
	ast, iss := env.Compile(`R.attr.a.except(R.attr.b).size() > 0`)
	if iss.Err() != nil {
		t.Fatal(iss.Err())
	}
	est, err := env.EstimateCost(ast, noSizes{})
	if err != nil {
		t.Fatal(err)
	}
	if est.Max != math.MaxUint64 {
		t.Errorf("estimated cost %+v, want unbounded", est)
	}
}
