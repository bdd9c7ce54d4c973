package schemas

import (
	"fmt"
	"math/big"
	"slices"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
)

// Messages follow the wording of santhosh-tekuri/jsonschema v5, which Cerbos
// 0.55 reports; every format below was checked against the Cerbos binary.

// messages renders the leaf error e about value. Most kinds give one message;
// dependentRequired gives one per missing property.
func (w *walker) messages(e *jsonschema.ValidationError, value any) []string {
	one := func(format string, args ...any) []string { return []string{fmt.Sprintf(format, args...)} }
	switch k := e.ErrorKind.(type) {
	case *kind.Type:
		return one("expected %s, but got %s", strings.Join(w.typeOrder(e.SchemaURL, k.Want), " or "), k.Got)
	case *kind.Const:
		return []string{constMessage(k.Want)}
	case *kind.Enum:
		return []string{enumMessage(k.Want)}
	case *kind.Format:
		return []string{formatMessage(k.Got, k.Want)}
	case *kind.FalseSchema:
		return one("not allowed")
	case *kind.Not:
		return one("not failed")
	case *kind.AllOf:
		return one("allOf failed")
	case *kind.AnyOf:
		return one("anyOf failed")
	case *kind.OneOf:
		if len(k.Subschemas) == 2 {
			return one("valid against schemas at indexes %d and %d", k.Subschemas[0], k.Subschemas[1])
		}
		return one("oneOf failed")
	case *kind.Required:
		return one("missing properties: %s", joinQuoted(k.Missing))
	case *kind.Dependency:
		return dependencyMessages(k.Prop, k.Missing)
	case *kind.DependentRequired:
		return dependencyMessages(k.Prop, k.Missing)
	case *kind.AdditionalProperties:
		return one("additionalProperties %s not allowed", joinQuoted(slices.Sorted(slices.Values(k.Properties))))
	case *kind.PropertyNames:
		return one("invalid propertyName %s", quote(k.Property))
	case *kind.MinProperties:
		return one("minimum %d properties allowed, but found %d properties", k.Want, k.Got)
	case *kind.MaxProperties:
		return one("maximum %d properties allowed, but found %d properties", k.Want, k.Got)
	case *kind.MinItems:
		return one("minimum %d items required, but found %d items", k.Want, k.Got)
	case *kind.MaxItems:
		return one("maximum %d items required, but found %d items", k.Want, k.Got)
	case *kind.UniqueItems:
		return one("items at index %d and %d are equal", k.Duplicates[0], k.Duplicates[1])
	case *kind.AdditionalItems:
		n := k.Count
		if arr, ok := value.([]any); ok {
			n = len(arr)
		}
		return one("only %d items are allowed, but found %d items", n-k.Count, n)
	case *kind.Contains:
		return one("valid must be >= 1, but got 0")
	case *kind.MinContains:
		return one("valid must be >= %d, but got %d", k.Want, len(k.Got))
	case *kind.MaxContains:
		return one("valid must be <= %d, but got %d", k.Want, len(k.Got))
	case *kind.MinLength:
		return one("length must be >= %d, but got %d", k.Want, k.Got)
	case *kind.MaxLength:
		return one("length must be <= %d, but got %d", k.Want, k.Got)
	case *kind.Pattern:
		return one("does not match pattern %s", quote(k.Want))
	case *kind.ContentEncoding:
		return one("value is not %s encoded", k.Want)
	case *kind.ContentMediaType:
		return one("value is not of mediatype %s", quote(k.Want))
	case *kind.Minimum:
		return one("must be >= %v but found %v", ratFloat(k.Want), numberText(value, k.Got))
	case *kind.Maximum:
		return one("must be <= %v but found %v", ratFloat(k.Want), numberText(value, k.Got))
	case *kind.ExclusiveMinimum:
		return one("must be > %v but found %v", ratFloat(k.Want), numberText(value, k.Got))
	case *kind.ExclusiveMaximum:
		return one("must be < %v but found %v", ratFloat(k.Want), numberText(value, k.Got))
	case *kind.MultipleOf:
		return one("%v not multipleOf %v", numberText(value, k.Got), ratFloat(k.Want))
	case *kind.RefCycle:
		return one("infinite loop %s", k.URL)
	case *kind.Schema, *kind.Group, *kind.Reference:
		return one("validation failed")
	default:
		// Kinds from custom vocabularies, which gatehouse does not register.
		return one("%s failed", strings.Join(e.ErrorKind.KeywordPath(), "/"))
	}
}

// typeOrder lists the wanted types in the order the schema gives them; the
// validator only keeps a set. Schemas outside the loaded documents are the
// built-in metaschemas, whose only multi-type keyword is ["object", "boolean"].
func (w *walker) typeOrder(location string, want []string) []string {
	if raw := rawSchema(w.docs, location); raw != nil {
		switch t := raw["type"].(type) {
		case string:
			return []string{t}
		case []any:
			out := make([]string, 0, len(t))
			for _, item := range t {
				if s, ok := item.(string); ok {
					out = append(out, s)
				}
			}
			if len(out) == len(want) {
				return out
			}
		}
	}
	if slices.Equal(want, []string{"boolean", "object"}) {
		return []string{"object", "boolean"}
	}
	return want
}

// constMessage renders a failed const. Values print in Go syntax (%#v), so a
// number from a schema, kept as json.Number, prints as a quoted string.
func constMessage(want any) string {
	switch want.(type) {
	case []any, map[string]any:
		return "const failed"
	}
	return fmt.Sprintf("value must be %#v", want)
}

// enumMessage renders a failed enum.
func enumMessage(want []any) string {
	parts := make([]string, len(want))
	for i, v := range want {
		switch v.(type) {
		case []any, map[string]any:
			return "enum failed"
		}
		parts[i] = fmt.Sprintf("%#v", v)
	}
	if len(parts) == 1 {
		return "value must be " + parts[0]
	}
	return "value must be one of " + strings.Join(parts, ", ")
}

// formatMessage renders a failed format.
func formatMessage(got any, format string) string {
	val := fmt.Sprint(got)
	if s, ok := got.(string); ok {
		val = quote(s)
	}
	return fmt.Sprintf("%s is not valid %s", val, quote(format))
}

func dependencyMessages(prop string, missing []string) []string {
	out := make([]string, len(missing))
	for i, m := range missing {
		out[i] = fmt.Sprintf("property %s is required, if %s property exists", quote(m), quote(prop))
	}
	return out
}

// quote single-quotes s as Cerbos does: Go %q escapes, with `\"` turned
// back into `"` and single quotes backslash-escaped. The replacement runs over
// the double-quoted form, so a string ending in a backslash loses one: `\`
// prints as '\'.
func quote(s string) string {
	q := fmt.Sprintf("%q", s)
	q = strings.ReplaceAll(q, `\"`, `"`)
	q = strings.ReplaceAll(q, "'", `\'`)
	return "'" + q[1:len(q)-1] + "'"
}

func joinQuoted(items []string) string {
	parts := make([]string, len(items))
	for i, s := range items {
		parts[i] = quote(s)
	}
	return strings.Join(parts, ", ")
}

// ratFloat is a schema limit as Cerbos prints it: converted to float64.
func ratFloat(r *big.Rat) float64 {
	f, _ := r.Float64()
	return f
}

// numberText is the instance number as Cerbos prints it: the value itself
// (float64 for attributes), or the validator's copy when it is not at hand.
func numberText(value any, got *big.Rat) any {
	switch value.(type) {
	case float64, float32, int, int64, int32, uint, uint64, uint32:
		return value
	case fmt.Stringer:
		return value
	}
	return ratFloat(got)
}
