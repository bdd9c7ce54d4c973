package schemas

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
)

// fuzzSchema uses most keywords, including the const, enum and format
// keywords whose failures the walker completes, and a recursive $ref.
const fuzzSchema = `{
	"type": "object",
	"required": ["id"],
	"additionalProperties": {"type": ["string", "number", "object", "array", "boolean", "null"]},
	"propertyNames": {"maxLength": 12},
	"dependentRequired": {"owner": ["team"]},
	"properties": {
		"id": {"type": "string", "format": "uuid", "minLength": 36},
		"team": {"enum": ["a", "b", 1, null], "pattern": "^[a-z]$"},
		"level": {"type": "integer", "minimum": 0, "exclusiveMaximum": 10, "multipleOf": 2},
		"ratio": {"type": "number", "maximum": 1.5},
		"email": {"format": "email", "maxLength": 20, "const": "a@b.co"},
		"when": {"type": "string", "format": "date-time"},
		"tags": {"type": "array", "uniqueItems": true, "maxItems": 5, "contains": {"const": "x"}, "items": {"type": "string"}},
		"pair": {"prefixItems": [{"type": "string"}, {"type": "number"}], "items": false},
		"kids": {"type": "array", "items": {"$ref": "#"}},
		"choice": {"oneOf": [{"type": "string"}, {"minimum": 3}], "not": {"const": 4}},
		"either": {"anyOf": [{"$ref": "#/$defs/small"}, {"type": "boolean"}]},
		"cond": {"if": {"type": "string"}, "then": {"minLength": 2}, "else": {"type": "object", "minProperties": 1, "unevaluatedProperties": false, "properties": {"k": true}}}
	},
	"$defs": {"small": {"type": "integer", "maximum": 3, "enum": [1, 2, 5]}}
}`

func FuzzValidate(f *testing.F) {
	s, err := NewRegistry(fstest.MapFS{"f.json": {Data: []byte(fuzzSchema)}}).Compile("cerbos:///f.json")
	if err != nil {
		f.Fatal(err)
	}
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"id": "x", "team": "c", "level": 11, "email": "nope", "tags": ["a", "a", 1]}`))
	f.Add([]byte(`{"kids": [{"kids": [{"id": 1, "team": 1}]}], "choice": 4, "either": 5, "cond": {"z": 1}}`))
	f.Add([]byte(`{"pair": ["a", 1, 2], "a/b~c": {"日本": [null, true, 1e300, -0.0]}, "owner": "x"}`))
	for _, c := range loadValidateCases(f) {
		f.Add([]byte(c.Instance))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, useNumber := range []bool{false, true} {
			dec := json.NewDecoder(bytes.NewReader(data))
			if useNumber {
				dec.UseNumber()
			}
			var attrs map[string]any
			if dec.Decode(&attrs) != nil {
				return
			}
			got := s.Validate(attrs, SourceResource)
			if !slices.IsSortedFunc(got, func(a, b ValidationError) int {
				return strings.Compare(a.Path+"\x00"+a.Message, b.Path+"\x00"+b.Message)
			}) {
				t.Errorf("errors not sorted: %q", got)
			}
			for _, e := range got {
				if !strings.HasPrefix(e.Path, "/") || e.Message == "" || e.Source != SourceResource {
					t.Errorf("malformed error %q", e)
				}
			}
		}
	})
}
