package schemas

import (
	"strconv"
	"strings"
)

// keywordRank is the order in which the jsonschema v5 validator Cerbos uses
// evaluates the keywords of one schema. When a schema document fails its
// metaschema in several places Cerbos reports the first failure met, so
// gatehouse picks the failure whose keyword path comes first in this order.
var keywordRank = func() map[string]int {
	order := []string{
		"type", "const", "enum", "format",
		"minProperties", "maxProperties", "required", "properties", "patternProperties",
		"additionalProperties", "dependency", "dependencies", "dependentRequired",
		"dependentSchemas", "propertyNames",
		"minItems", "maxItems", "uniqueItems", "items", "additionalItems", "prefixItems",
		"contains", "minContains", "maxContains",
		"minLength", "maxLength", "pattern", "contentEncoding", "contentMediaType",
		"minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum", "multipleOf",
		"$ref", "$recursiveRef", "$dynamicRef",
		"not", "allOf", "anyOf", "oneOf", "if", "then", "else",
		"unevaluatedProperties", "unevaluatedItems",
	}
	m := make(map[string]int, len(order))
	for i, k := range order {
		m[k] = i
	}
	return m
}()

// evaluatedBefore reports whether the failure at keyword location a is met
// before the one at b. At the first token where the paths differ, keywords
// compare by keywordRank, array indexes numerically and property names as
// strings (v5 visits properties in map order, so any fixed order will do).
func evaluatedBefore(a, b string) bool {
	ta, tb := strings.Split(a, "/"), strings.Split(b, "/")
	for i := 0; i < len(ta) && i < len(tb); i++ {
		if ta[i] == tb[i] {
			continue
		}
		ra, okA := keywordRank[ta[i]]
		rb, okB := keywordRank[tb[i]]
		if okA && okB {
			return ra < rb
		}
		na, errA := strconv.Atoi(ta[i])
		nb, errB := strconv.Atoi(tb[i])
		if errA == nil && errB == nil {
			return na < nb
		}
		return ta[i] < tb[i]
	}
	return len(ta) < len(tb)
}
