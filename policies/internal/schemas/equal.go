package schemas

import (
	"encoding/json"
	"fmt"
	"math/big"
)

// jsonEqual reports whether two decoded JSON values are equal, comparing
// numbers by value whatever their Go representation.
func jsonEqual(a, b any) bool {
	switch a := a.(type) {
	case map[string]any:
		b, ok := b.(map[string]any)
		if !ok || len(a) != len(b) {
			return false
		}
		for k, av := range a {
			bv, ok := b[k]
			if !ok || !jsonEqual(av, bv) {
				return false
			}
		}
		return true
	case []any:
		b, ok := b.([]any)
		if !ok || len(a) != len(b) {
			return false
		}
		for i := range a {
			if !jsonEqual(a[i], b[i]) {
				return false
			}
		}
		return true
	case nil:
		return b == nil
	case bool:
		b, ok := b.(bool)
		return ok && a == b
	case string:
		b, ok := b.(string)
		return ok && a == b
	}
	x, ok1 := ratOf(a)
	y, ok2 := ratOf(b)
	return ok1 && ok2 && x.Cmp(y) == 0
}

// ratOf converts a JSON number in any Go representation to an exact rational.
func ratOf(v any) (*big.Rat, bool) {
	switch v.(type) {
	case json.Number, float64, float32, int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
		return new(big.Rat).SetString(fmt.Sprint(v))
	}
	return nil, false
}

// enumContains reports whether v equals one of values.
func enumContains(values []any, v any) bool {
	for _, item := range values {
		if jsonEqual(v, item) {
			return true
		}
	}
	return false
}
