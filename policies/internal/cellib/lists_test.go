package cellib

import "testing"

// Behaviour verified against Cerbos 0.55.0 (see also testdata/cerbos_repl.tsv).
func TestListFunctions(t *testing.T) {
	runCases(t, []celCase{
		// except keeps the order and duplicates of the first list.
		{expr: `except([1,2,2,3,1],[2])`, want: []int{1, 3, 1}},
		{expr: `except([1,2,2,3,1],[])`, want: []int{1, 2, 2, 3, 1}},
		{expr: `[1, 2.0, "a"].except([2u])`, want: []any{1, "a"}},
		{expr: `except([dyn(1), dyn(2)], [dyn(1.0)])`, want: []int{2}},
		{expr: `except([1, null], [null])`, want: []int{1}},
		{expr: `[[1],[2]].except([[1]])`, want: [][]int{{2}}},
		// intersect walks the shorter list (the first on a tie).
		{expr: `intersect([3,2,1],[1,2])`, want: []int{1, 2}},
		{expr: `intersect([1,2],[3,2,1])`, want: []int{1, 2}},
		{expr: `intersect([3,2,1],[1,2,3])`, want: []int{3, 2, 1}},
		{expr: `intersect([1,1,2],[1,2,3])`, want: []int{1, 1, 2}},
		{expr: `intersect([1,2,3],[1,1,2])`, want: []int{1, 2}},
		{expr: `intersect([], [1])`, want: []int{}},
		{expr: `[1,2].intersect([2])`, want: []int{2}},
		{expr: `intersect([dyn(1), dyn(2)], [dyn(1.0)])`, want: []float64{1}},
		{expr: `type(intersect([1],[1])) == list`, want: true},
		// hasIntersection / has_intersection.
		{expr: `hasIntersection([],[])`, want: false},
		{expr: `has_intersection([1,2],[3])`, want: false},
		{expr: `[1].has_intersection([1])`, want: true},
		{expr: `hasIntersection([dyn(1), dyn(2)], [dyn(2u)])`, want: true},
		{expr: `hasIntersection([1, 2], [dyn(0.0/0.0)])`, want: false},
		// isSubset / is_subset.
		{expr: `isSubset([],[])`, want: true},
		{expr: `isSubset([1,1],[1])`, want: true},
		{expr: `[1,"a"].isSubset(["a",1, 3])`, want: true},
		{expr: `[1,"a"].is_subset(["a"])`, want: false},
		{expr: `isSubset([dyn(1), dyn(2)], [dyn(2u), dyn(1.0)])`, want: true},
		// Element types must agree at check time; dyn defers the check.
		{expr: `[1,2].except(["a"])`, wantCompileErr: "found no matching overload for 'except'"},
		{expr: `except([1],[1.0])`, wantCompileErr: "found no matching overload"},
		{expr: `except({"a":1}, [1])`, wantCompileErr: "found no matching overload"},
		{expr: `isSubset(dyn([1]), dyn(2))`, wantErr: "no such overload: isSubset(list, int)"},
		{expr: `intersect(dyn(1), [2])`, wantErr: "no such overload: intersect(int, list)"},
		{expr: `except([1], dyn("x"))`, wantErr: "no such overload: except(list, string)"},
		{expr: `intersect([1,2], dyn({"a":1}))`, wantErr: "no such overload: intersect(list, map)"},
	})
}
