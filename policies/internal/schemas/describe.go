package schemas

import (
	"errors"
	"fmt"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// describe turns a failure to compile ref into a CompileError worded as
// Cerbos words it. top is ref without its fragment. The caller holds r.mu.
func (r *Registry) describe(ref, top string, err error) *CompileError {
	cause := err
	loadedURL := top
	var lerr *jsonschema.LoadURLError
	if errors.As(err, &lerr) {
		cause, loadedURL = lerr.Err, lerr.URL
	}

	var missing *missingError
	if errors.As(cause, &missing) {
		if loadedURL == top {
			return &CompileError{Ref: ref, msg: missing.Error(), err: missing}
		}
		// The compiler meets $ref targets in map order; report the first
		// missing one in document order instead, so the message is stable.
		if first := r.firstMissing(top); first != nil {
			missing = first
		}
		msg := fmt.Sprintf("schema %s referenced by %s doesn't exist", missing.display, ref)
		return &CompileError{Ref: ref, msg: msg, err: missing}
	}
	return &CompileError{
		Ref: ref,
		msg: fmt.Sprintf("jsonschema %s compilation failed: %s", ref, r.detail(cause)),
		err: cause,
	}
}

// detail renders the reason a schema failed to compile.
func (r *Registry) detail(err error) string {
	var (
		sve    *jsonschema.SchemaValidationError
		ptr    *jsonschema.JSONPointerNotFoundError
		anchor *jsonschema.AnchorNotFoundError
		dup    *jsonschema.DuplicateIDError
		loop   *refLoopError
	)
	switch {
	case errors.As(err, &sve):
		var ve *jsonschema.ValidationError
		if errors.As(sve.Err, &ve) {
			if msg, ok := r.metaSchemaMessage(sve.URL, ve); ok {
				return msg
			}
		}
	case errors.As(err, &ptr):
		return ptr.URL + " not found"
	case errors.As(err, &anchor):
		return anchor.Reference + " not found"
	case errors.As(err, &dup):
		p1, p2 := dup.Ptr1, dup.Ptr2
		if p2 < p1 {
			p1, p2 = p2, p1
		}
		return fmt.Sprintf("%q and %q in %s have same canonical-uri", p1, p2, dup.URL)
	case errors.As(err, &loop):
		return loop.Error()
	}
	return err.Error()
}

// metaSchemaMessage renders a schema document's failure to validate against
// its metaschema as Cerbos does: the leaf error its validator meets first (see
// evaluatedBefore), with the instance location inside the document and the
// keyword location inside the metaschema, e.g. `'/type' does not validate
// with https://json-schema.org/draft/2020-12/schema#/allOf/3/$ref/properties/type/anyOf/0/$ref/enum: value must be one of ...`.
func (r *Registry) metaSchemaMessage(docURL string, ve *jsonschema.ValidationError) (string, bool) {
	base, frag := splitFragment(docURL)
	doc, err := r.load(base)
	if err != nil {
		return "", false
	}
	instance, ok := lookup(doc, decodeFragment(frag))
	if !ok {
		return "", false
	}
	w := &walker{}
	w.walk(ve, instance, nil, "", "")
	if len(w.out) == 0 {
		return "", false
	}
	first := w.out[0]
	for _, l := range w.out[1:] {
		if evaluatedBefore(l.keyword, first.keyword) {
			first = l
		}
	}
	metaURL, _ := splitFragment(ve.SchemaURL)
	return fmt.Sprintf("%s does not validate with %s#%s: %s",
		quote(documentPointer(first.inst)), metaURL, first.keyword, first.msg), true
}
