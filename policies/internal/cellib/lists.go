package cellib

import (
	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/common/types/traits"
)

// Overload IDs of the list functions.
const (
	overloadExcept          = "cerbos_except_list_list"
	overloadListExcept      = "cerbos_list_except_list"
	overloadIntersect       = "cerbos_intersect_list_list"
	overloadListIntersect   = "cerbos_list_intersect_list"
	overloadHasIntersection = "cerbos_hasIntersection_list_list"
	overloadListHasInter    = "cerbos_list_hasIntersection_list"
	overloadHasInterSnake   = "cerbos_has_intersection_list_list"
	overloadListHasInterSn  = "cerbos_list_has_intersection_list"
	overloadIsSubset        = "cerbos_isSubset_list_list"
	overloadListIsSubset    = "cerbos_list_isSubset_list"
	overloadIsSubsetSnake   = "cerbos_is_subset_list_list"
	overloadListIsSubsetSn  = "cerbos_list_is_subset_list"
)

// listFunctions declares except, intersect, hasIntersection (has_intersection)
// and isSubset (is_subset), each as a global function of two lists and as a
// method on the first list. Both lists must have the same element type at
// check time; element comparison at run time uses CEL equality.
func listFunctions() []cel.EnvOption {
	listA := cel.ListType(cel.TypeParamType("A"))
	args := []*cel.Type{listA, listA}
	pair := func(name, globalID, memberID string, result *cel.Type, fn func(a, b ref.Val) ref.Val) cel.EnvOption {
		return cel.Function(name,
			cel.Overload(globalID, args, result, cel.BinaryBinding(fn)),
			cel.MemberOverload(memberID, args, result, cel.BinaryBinding(fn)),
		)
	}
	return []cel.EnvOption{
		pair("except", overloadExcept, overloadListExcept, listA, except),
		pair("intersect", overloadIntersect, overloadListIntersect, listA, intersect),
		pair("hasIntersection", overloadHasIntersection, overloadListHasInter, cel.BoolType, hasIntersection),
		pair("has_intersection", overloadHasInterSnake, overloadListHasInterSn, cel.BoolType, hasIntersection),
		pair("isSubset", overloadIsSubset, overloadListIsSubset, cel.BoolType, isSubset),
		pair("is_subset", overloadIsSubsetSnake, overloadListIsSubsetSn, cel.BoolType, isSubset),
	}
}

// twoLists unpacks the arguments of the list functions.
func twoLists(a, b ref.Val) (traits.Lister, traits.Lister, ref.Val) {
	la, okA := a.(traits.Lister)
	lb, okB := b.(traits.Lister)
	if !okA || !okB {
		return nil, nil, types.MaybeNoSuchOverloadErr(firstNonList(a, b))
	}
	return la, lb, nil
}

func firstNonList(a, b ref.Val) ref.Val {
	if _, ok := a.(traits.Lister); !ok {
		return a
	}
	return b
}

// except returns the elements of a that b does not contain, keeping the order
// and the duplicates of a.
func except(a, b ref.Val) ref.Val {
	la, lb, errVal := twoLists(a, b)
	if errVal != nil {
		return errVal
	}
	out := make([]ref.Val, 0, listSize(la))
	for it := la.Iterator(); it.HasNext() == types.True; {
		v := it.Next()
		if !contains(lb, v) {
			out = append(out, v)
		}
	}
	return types.NewRefValList(types.DefaultTypeAdapter, out)
}

// intersect returns the elements of the shorter list (the first one when both
// have the same length) that the other list contains, in the order and with
// the duplicates of the shorter list: intersect([3,2,1],[1,2]) == [1,2].
func intersect(a, b ref.Val) ref.Val {
	la, lb, errVal := twoLists(a, b)
	if errVal != nil {
		return errVal
	}
	short, long := la, lb
	if listSize(lb) < listSize(la) {
		short, long = lb, la
	}
	out := make([]ref.Val, 0, listSize(short))
	for it := short.Iterator(); it.HasNext() == types.True; {
		v := it.Next()
		if contains(long, v) {
			out = append(out, v)
		}
	}
	return types.NewRefValList(types.DefaultTypeAdapter, out)
}

// hasIntersection reports whether a and b have at least one element in common.
func hasIntersection(a, b ref.Val) ref.Val {
	la, lb, errVal := twoLists(a, b)
	if errVal != nil {
		return errVal
	}
	for it := la.Iterator(); it.HasNext() == types.True; {
		if contains(lb, it.Next()) {
			return types.True
		}
	}
	return types.False
}

// isSubset reports whether b contains every element of a.
func isSubset(a, b ref.Val) ref.Val {
	la, lb, errVal := twoLists(a, b)
	if errVal != nil {
		return errVal
	}
	for it := la.Iterator(); it.HasNext() == types.True; {
		if !contains(lb, it.Next()) {
			return types.False
		}
	}
	return types.True
}
