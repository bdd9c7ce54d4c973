package schemas

import (
	"errors"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// Schema is a compiled attribute schema. It is immutable and safe for
// concurrent use.
type Schema struct {
	ref   string
	root  *jsonschema.Schema
	index map[string]*jsonschema.Schema // every reachable schema by location
	docs  map[string]any                // the documents it was compiled from
}

// Ref returns the reference the schema was compiled from.
func (s *Schema) Ref() string { return s.ref }

// Validate checks attrs, decoded from JSON (numbers as float64, json.Number
// or Go integers; nil means no attributes), and returns the leaf errors
// sorted by path then message, all attributed to src. It returns nil when
// attrs are valid.
func (s *Schema) Validate(attrs map[string]any, src Source) []ValidationError {
	var instance any = map[string]any{}
	if attrs != nil {
		instance = normalize(attrs)
	}
	err := s.root.Validate(instance)
	if err == nil {
		return nil
	}
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return []ValidationError{{Path: "/", Message: err.Error(), Source: src}}
	}
	w := &walker{index: s.index, docs: s.docs}
	w.walk(ve, instance, nil, "", "")
	out := make([]ValidationError, len(w.out))
	for i, l := range w.out {
		out[i] = ValidationError{Path: instancePath(l.inst), Message: l.msg, Source: src}
	}
	sortValidationErrors(out)
	return out
}
