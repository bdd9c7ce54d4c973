package policies

import (
	"reflect"

	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/common/types/traits"
)

// attrMap is the CEL map behind P.attr, R.attr and request.auxData.jwt. It lives inside the
// pooled request state, so reading an attribute allocates nothing but the value itself;
// operations that need a full CEL map (iteration, equality, conversion) use cel-go's.
type attrMap struct {
	m    map[string]any
	full ref.Val // cel-go's map over m, built on first use
}

var _ traits.Mapper = (*attrMap)(nil)

func (a *attrMap) reset(m map[string]any) {
	if m == nil {
		m = map[string]any{}
	}
	a.m, a.full = m, nil
}

func (a *attrMap) mapper() traits.Mapper {
	if a.full == nil {
		a.full = types.NewStringInterfaceMap(types.DefaultTypeAdapter, a.m)
	}
	return a.full.(traits.Mapper)
}

// Find implements traits.Mapper.
func (a *attrMap) Find(key ref.Val) (ref.Val, bool) {
	k, ok := key.(types.String)
	if !ok {
		return a.mapper().Find(key)
	}
	v, found := a.m[string(k)]
	if !found {
		return nil, false
	}
	return types.DefaultTypeAdapter.NativeToValue(v), true
}

// Get implements traits.Indexer.
func (a *attrMap) Get(key ref.Val) ref.Val {
	v, found := a.Find(key)
	if !found {
		return types.ValOrErr(v, "no such key: %v", key)
	}
	return v
}

// Contains implements traits.Container.
func (a *attrMap) Contains(key ref.Val) ref.Val {
	v, found := a.Find(key)
	if !found && v != nil {
		return types.MaybeNoSuchOverloadErr(v)
	}
	return types.Bool(found)
}

func (a *attrMap) Size() ref.Val                               { return types.Int(len(a.m)) }
func (a *attrMap) IsZeroValue() bool                           { return len(a.m) == 0 }
func (a *attrMap) Iterator() traits.Iterator                   { return a.mapper().Iterator() }
func (a *attrMap) Equal(other ref.Val) ref.Val                 { return a.mapper().Equal(other) }
func (a *attrMap) ConvertToNative(t reflect.Type) (any, error) { return a.mapper().ConvertToNative(t) }
func (a *attrMap) ConvertToType(t ref.Type) ref.Val            { return a.mapper().ConvertToType(t) }
func (a *attrMap) Type() ref.Type                              { return types.MapType }
func (a *attrMap) Value() any                                  { return a.m }
