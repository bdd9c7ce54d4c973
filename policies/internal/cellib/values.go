package cellib

import (
	"fmt"
	"reflect"

	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/common/types/traits"
)

var stringReflectType = reflect.TypeFor[string]()

// stringSlice converts a CEL list of strings to a Go slice. A list holding
// anything but strings yields the conversion error Cerbos reports, so the
// message seen in outputs is the same.
func stringSlice(v ref.Val) ([]string, ref.Val) {
	l, ok := v.(traits.Lister)
	if !ok {
		return nil, types.MaybeNoSuchOverloadErr(v)
	}
	n, ok := l.Size().(types.Int)
	if !ok || n < 0 {
		return nil, types.NewErr("failed to convert list to string slice: invalid list size")
	}
	out := make([]string, 0, int(n))
	for it := l.Iterator(); it.HasNext() == types.True; {
		elem := it.Next()
		if s, ok := elem.(types.String); ok {
			out = append(out, string(s))
			continue
		}
		if types.IsError(elem) {
			return nil, elem
		}
		// Let the element report why it is not a string, as cel-go words it.
		native, err := elem.ConvertToNative(stringReflectType)
		if err != nil {
			return nil, types.NewErr("failed to convert list to string slice: %v", err)
		}
		s, ok := native.(string)
		if !ok {
			return nil, types.NewErr("failed to convert list to string slice: unsupported type conversion from '%s' to string", elem.Type().TypeName())
		}
		out = append(out, s)
	}
	return out, nil
}

// listOf returns v as a list, or the error CEL reports for a wrong argument.
func listOf(v ref.Val) (traits.Lister, ref.Val) {
	l, ok := v.(traits.Lister)
	if !ok {
		return nil, types.MaybeNoSuchOverloadErr(v)
	}
	return l, nil
}

// listSize returns the number of elements of l.
func listSize(l traits.Lister) int {
	n, ok := l.Size().(types.Int)
	if !ok || n < 0 {
		return 0
	}
	return int(n)
}

// contains reports whether l holds an element equal to v under CEL's
// (heterogeneous) equality, so that 1 matches 1.0 and 1u.
func contains(l traits.Lister, v ref.Val) bool {
	return l.Contains(v) == types.True
}

// nativeConversionErr is the error the custom types return when asked to turn
// into anything else (for example JSON for a rule output). The wording matches
// Cerbos, whose outputs carry the message.
func nativeConversionErr(name string, typeDesc reflect.Type) error {
	return fmt.Errorf("unsupported native conversion from %s to '%v'", name, typeDesc)
}

// typeConversionErr is returned by ConvertToType for unsupported targets.
func typeConversionErr(from ref.Type, to ref.Type) ref.Val {
	return types.NewErr("type conversion error from '%s' to '%s'", from.TypeName(), to.TypeName())
}

// convertToType implements the common part of ConvertToType for the custom
// types: the value converts to its own type and reports it as its type.
func convertToType(v ref.Val, t ref.Type) ref.Val {
	switch t.TypeName() {
	case v.Type().TypeName():
		return v
	case types.TypeType.TypeName():
		return v.Type().(ref.Val)
	}
	return typeConversionErr(v.Type(), t)
}
