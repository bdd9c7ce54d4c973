package cellib

import (
	"maps"
	"reflect"
	"slices"
	"strings"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/operators"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/common/types/traits"
)

// HierarchyType is the CEL type of hierarchy values. Its name is the one
// Cerbos uses, so type(h) and type-check messages read the same.
var HierarchyType = cel.ObjectType("cerbos.lib.hierarchy",
	traits.IndexerType, traits.SizerType, traits.ReceiverType)

// Overload IDs of the hierarchy functions.
const (
	overloadHierarchyString      = "cerbos_hierarchy_string"
	overloadHierarchyStringDelim = "cerbos_hierarchy_string_string"
	overloadHierarchyList        = "cerbos_hierarchy_list"
	overloadHierarchySize        = "cerbos_hierarchy_size"
	overloadHierarchyIndex       = "cerbos_index_hierarchy_int"
	overloadHierarchyCommon      = "cerbos_hierarchy_commonAncestors_hierarchy"
)

// hierarchyPredicates are the methods h.m(other) -> bool.
var hierarchyPredicates = map[string]func(h, o Hierarchy) bool{
	"ancestorOf":        Hierarchy.ancestorOf,
	"descendentOf":      func(h, o Hierarchy) bool { return o.ancestorOf(h) },
	"immediateParentOf": Hierarchy.immediateParentOf,
	"immediateChildOf":  func(h, o Hierarchy) bool { return o.immediateParentOf(h) },
	"siblingOf":         Hierarchy.siblingOf,
	"overlaps":          Hierarchy.overlaps,
}

// hierarchyPredicateOverload returns the overload ID of a predicate method.
func hierarchyPredicateOverload(method string) string {
	return "cerbos_hierarchy_" + method + "_hierarchy"
}

// hierarchyFunctions declares the hierarchy constructors, h.size(), h[i] and
// the comparison methods. Methods and operators carry no bindings: the values
// implement them (traits.Receiver, traits.Sizer, traits.Indexer), which is also
// what makes string(h) a compile error, as in Cerbos.
func hierarchyFunctions() []cel.EnvOption {
	opts := []cel.EnvOption{
		cel.Function("hierarchy",
			cel.Overload(overloadHierarchyString, []*cel.Type{cel.StringType}, HierarchyType,
				cel.UnaryBinding(func(s ref.Val) ref.Val { return newHierarchy(s, types.String(".")) })),
			cel.Overload(overloadHierarchyStringDelim, []*cel.Type{cel.StringType, cel.StringType}, HierarchyType,
				cel.BinaryBinding(newHierarchy)),
			cel.Overload(overloadHierarchyList, []*cel.Type{cel.ListType(cel.StringType)}, HierarchyType,
				cel.UnaryBinding(hierarchyFromList)),
		),
		cel.Function("size",
			cel.MemberOverload(overloadHierarchySize, []*cel.Type{HierarchyType}, cel.IntType)),
		cel.Function(operators.Index,
			cel.Overload(overloadHierarchyIndex, []*cel.Type{HierarchyType, cel.IntType}, cel.StringType)),
		cel.Function("commonAncestors",
			cel.MemberOverload(overloadHierarchyCommon, []*cel.Type{HierarchyType, HierarchyType}, HierarchyType)),
	}
	for _, method := range slices.Sorted(maps.Keys(hierarchyPredicates)) {
		opts = append(opts, cel.Function(method,
			cel.MemberOverload(hierarchyPredicateOverload(method),
				[]*cel.Type{HierarchyType, HierarchyType}, cel.BoolType)))
	}
	return opts
}

// newHierarchy splits s at every delim, like strings.Split: an empty s gives
// one empty segment, an empty delim splits into characters (and an empty s
// then gives no segment at all).
func newHierarchy(s, delim ref.Val) ref.Val {
	str, ok := s.(types.String)
	if !ok {
		return types.MaybeNoSuchOverloadErr(s)
	}
	sep, ok := delim.(types.String)
	if !ok {
		return types.MaybeNoSuchOverloadErr(delim)
	}
	return Hierarchy{segments: strings.Split(string(str), string(sep))}
}

func hierarchyFromList(v ref.Val) ref.Val {
	segments, errVal := stringSlice(v)
	if errVal != nil {
		return errVal
	}
	return Hierarchy{segments: segments}
}

// Hierarchy is the CEL value made of segments, such as the scope "acme.hr.uk",
// that hierarchy() returns. It is immutable.
type Hierarchy struct {
	segments []string
}

// NewHierarchy returns the hierarchy made of the given segments.
func NewHierarchy(segments ...string) Hierarchy {
	return Hierarchy{segments: slices.Clone(segments)}
}

// Segments returns a copy of the segments of h.
func (h Hierarchy) Segments() []string {
	return slices.Clone(h.segments)
}

func (h Hierarchy) len() int {
	return len(h.segments)
}

func (h Hierarchy) hasPrefix(prefix Hierarchy) bool {
	return prefix.len() <= h.len() && slices.Equal(h.segments[:prefix.len()], prefix.segments)
}

// ancestorOf: o is longer than h and starts with all of h.
func (h Hierarchy) ancestorOf(o Hierarchy) bool {
	return o.len() > h.len() && o.hasPrefix(h)
}

// immediateParentOf: o is h plus exactly one segment.
func (h Hierarchy) immediateParentOf(o Hierarchy) bool {
	return o.len() == h.len()+1 && o.hasPrefix(h)
}

// siblingOf: same length and equal except, possibly, the last segment.
func (h Hierarchy) siblingOf(o Hierarchy) bool {
	if h.len() != o.len() {
		return false
	}
	if h.len() == 0 {
		return true
	}
	n := h.len() - 1
	return slices.Equal(h.segments[:n], o.segments[:n])
}

// overlaps: the shorter one is a prefix of the longer one.
func (h Hierarchy) overlaps(o Hierarchy) bool {
	return h.hasPrefix(o) || o.hasPrefix(h)
}

// commonAncestors returns the longest common prefix of h and o. When both have
// the same length the last segment of each is ignored first, so a.b.c and a.b.c
// give a.b. Two empty hierarchies are an error (Cerbos fails on them too).
func (h Hierarchy) commonAncestors(o Hierarchy) ref.Val {
	n := min(h.len(), o.len())
	if h.len() == o.len() {
		n--
	}
	if n < 0 {
		return types.NewErr("internal error: runtime error: slice bounds out of range [:-1]")
	}
	i := 0
	for i < n && h.segments[i] == o.segments[i] {
		i++
	}
	return NewHierarchy(h.segments[:i]...)
}

// ConvertToNative implements ref.Val. Hierarchies have no JSON form; outputs
// that evaluate to one report this error, as in Cerbos.
func (h Hierarchy) ConvertToNative(typeDesc reflect.Type) (any, error) {
	if reflect.TypeOf(h).AssignableTo(typeDesc) {
		return h, nil
	}
	return nil, nativeConversionErr("hierarchy", typeDesc)
}

// ConvertToType implements ref.Val.
func (h Hierarchy) ConvertToType(t ref.Type) ref.Val {
	return convertToType(h, t)
}

// Equal implements ref.Val: hierarchies are equal when their segments are.
// Comparing with anything else is an error, not false (as in Cerbos).
func (h Hierarchy) Equal(other ref.Val) ref.Val {
	o, ok := other.(Hierarchy)
	if !ok {
		return types.MaybeNoSuchOverloadErr(other)
	}
	return types.Bool(slices.Equal(h.segments, o.segments))
}

// Type implements ref.Val.
func (h Hierarchy) Type() ref.Type {
	return HierarchyType
}

// Value implements ref.Val.
func (h Hierarchy) Value() any {
	return h.Segments()
}

// Size implements traits.Sizer: h.size() is the number of segments.
func (h Hierarchy) Size() ref.Val {
	return types.Int(h.len())
}

// Get implements traits.Indexer: h[i] is the i-th segment.
func (h Hierarchy) Get(index ref.Val) ref.Val {
	i, ok := index.(types.Int)
	if !ok {
		return types.NewErr("unsupported index type '%s'", index.Type().TypeName())
	}
	if i < 0 || i >= types.Int(h.len()) {
		return types.NewErr("index out of range")
	}
	return types.String(h.segments[i])
}

// Receive implements traits.Receiver for the hierarchy methods.
func (h Hierarchy) Receive(function string, _ string, args []ref.Val) ref.Val {
	if len(args) != 1 {
		return types.NewErr("no such overload")
	}
	o, ok := args[0].(Hierarchy)
	if !ok {
		return types.MaybeNoSuchOverloadErr(args[0])
	}
	if function == "commonAncestors" {
		return h.commonAncestors(o)
	}
	if pred, found := hierarchyPredicates[function]; found {
		return types.Bool(pred(h, o))
	}
	return types.NewErr("no such overload")
}
