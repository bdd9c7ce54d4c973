package schemas

import (
	"errors"
	"slices"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
)

// leaf is one reported failure.
type leaf struct {
	inst    []string // instance location tokens
	keyword string   // keyword location (evaluation path through the schema)
	msg     string
}

// walker flattens a jsonschema error tree into the leaf errors Cerbos reports.
//
// The jsonschema v6 validator stops evaluating a schema at the first failing
// const, enum or format keyword, while the v5 validator Cerbos uses reports
// them and carries on with the schema's other keywords. When index is set the
// walker makes up the difference by re-checking those three keywords and
// validating the value against the rest of that schema.
type walker struct {
	index  map[string]*jsonschema.Schema // compiled schemas by location
	docs   map[string]any                // schema documents by URL
	active map[string]bool               // (schema, instance) pairs being completed
	out    []leaf
}

// walk collects the leaves of e. base is the value e was validated against;
// prefix locates base within the reported instance. parentURL and keyword are
// the schema location and keyword location of e's parent.
func (w *walker) walk(e *jsonschema.ValidationError, base any, prefix []string, parentURL, keyword string) {
	if parentURL != "" {
		if rest, ok := strings.CutPrefix(e.SchemaURL, parentURL); ok {
			keyword += rest
		}
	}
	schemaURL := e.SchemaURL
	if ref, ok := e.ErrorKind.(*kind.Reference); ok {
		keyword += "/" + escapeToken(ref.Keyword)
		schemaURL = ref.URL
	}
	loc := slices.Concat(prefix, e.InstanceLocation)
	value, _ := lookup(base, e.InstanceLocation)
	if e.ErrorKind == nil {
		// Only produced when the validator merely tests validity; never
		// expected in a reported tree.
		for _, c := range e.Causes {
			w.walk(c, base, prefix, schemaURL, keyword)
		}
		return
	}

	switch k := e.ErrorKind.(type) {
	case *kind.PropertyNames:
		// The property name was validated as an instance of its own.
		if len(e.Causes) > 0 {
			at := append(slices.Clip(loc), k.Property)
			for _, c := range e.Causes {
				w.walk(c, k.Property, at, schemaURL, keyword)
			}
			return
		}
	case *kind.Const, *kind.Enum, *kind.Format:
		if w.complete(e, value, loc, keyword) {
			return
		}
	default:
		if len(e.Causes) > 0 {
			for _, c := range e.Causes {
				w.walk(c, base, prefix, schemaURL, keyword)
			}
			return
		}
	}
	w.emit(loc, keyword+documentPointer(e.ErrorKind.KeywordPath()), w.messages(e, value)...)
}

// complete reports every failure of the schema at which the validator
// stopped on a const, enum or format keyword. It returns false when the
// schema is unknown, leaving e to be reported as it is.
func (w *walker) complete(e *jsonschema.ValidationError, value any, loc []string, keyword string) bool {
	sch := w.index[e.SchemaURL]
	if sch == nil {
		return false
	}
	key := e.SchemaURL + "\x00" + documentPointer(loc)
	if w.active[key] {
		return false
	}
	if w.active == nil {
		w.active = map[string]bool{}
	}
	w.active[key] = true
	defer delete(w.active, key)

	if sch.Const != nil {
		if !jsonEqual(value, *sch.Const) {
			w.emit(loc, keyword+"/const", constMessage(*sch.Const))
		}
	}
	if sch.Enum != nil && !enumContains(sch.Enum.Values, value) {
		w.emit(loc, keyword+"/enum", enumMessage(sch.Enum.Values))
	}
	if sch.Format != nil {
		if err := sch.Format.Validate(value); err != nil {
			w.emit(loc, keyword+"/format", formatMessage(value, sch.Format.Name))
		}
	}

	rest := *sch
	rest.Types, rest.Const, rest.Enum, rest.Format = nil, nil, nil, nil
	var ve *jsonschema.ValidationError
	if err := rest.Validate(value); errors.As(err, &ve) {
		w.walk(ve, value, loc, e.SchemaURL, keyword)
	}
	return true
}

func (w *walker) emit(loc []string, keyword string, msgs ...string) {
	for _, m := range msgs {
		w.out = append(w.out, leaf{inst: slices.Clone(loc), keyword: keyword, msg: m})
	}
}
