package schemas

import (
	"encoding/json"
	"errors"
	"strconv"
)

// normalize returns attrs with every number as float64, the representation
// Cerbos attributes have after protobuf decoding, so that comparisons and
// messages ("must be <= 10 but found 1e+08") match. attrs is copied only
// when it holds something to convert.
func normalize(attrs map[string]any) any {
	if !needsNormalizing(attrs) {
		return attrs
	}
	return normalizeValue(attrs)
}

func needsNormalizing(v any) bool {
	switch v := v.(type) {
	case map[string]any:
		for _, item := range v {
			if needsNormalizing(item) {
				return true
			}
		}
		return false
	case []any:
		for _, item := range v {
			if needsNormalizing(item) {
				return true
			}
		}
		return false
	case nil, bool, string, float64:
		return false
	default:
		return true
	}
}

func normalizeValue(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, item := range v {
			out[k] = normalizeValue(item)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, item := range v {
			out[i] = normalizeValue(item)
		}
		return out
	case json.Number:
		// Out of range numbers become ±Inf (reported as invalid values) or
		// 0, as a float64 decoder would have them; kept as text they would
		// make the validator build huge exact rationals.
		f, err := strconv.ParseFloat(string(v), 64)
		if err != nil && !errors.Is(err, strconv.ErrRange) {
			return v
		}
		return f
	case float32:
		return float64(v)
	case int:
		return float64(v)
	case int8:
		return float64(v)
	case int16:
		return float64(v)
	case int32:
		return float64(v)
	case int64:
		return float64(v)
	case uint:
		return float64(v)
	case uint8:
		return float64(v)
	case uint16:
		return float64(v)
	case uint32:
		return float64(v)
	case uint64:
		return float64(v)
	default:
		return v
	}
}
