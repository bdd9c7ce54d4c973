package schemas

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
)

// ValidationError is one failed schema keyword.
type ValidationError struct {
	// Path is the JSON pointer of the offending value: "/" for the attributes
	// object, "" for a schema that could not be loaded (see LoadFailure).
	Path string
	// Message describes the failure in the wording Cerbos uses.
	Message string
	// Source says whether the principal's or the resource's attributes failed.
	Source Source
}

// sortValidationErrors orders errors by path, then message, then source.
func sortValidationErrors(errs []ValidationError) {
	slices.SortStableFunc(errs, func(a, b ValidationError) int {
		return cmp.Or(cmp.Compare(a.Path, b.Path), cmp.Compare(a.Message, b.Message), cmp.Compare(a.Source, b.Source))
	})
}

// LoadFailure is the single validation error Cerbos reports at request time
// for a schema reference that could not be compiled, e.g.
// `Failed to load principal schema "cerbos:///p.json": schema _schemas/p.json doesn't exist`.
// The same text is the description of the policy compile error.
func LoadFailure(ref string, src Source, err error) ValidationError {
	return ValidationError{
		Message: fmt.Sprintf("Failed to load %s schema %q: %v", src.noun(), ref, err),
		Source:  src,
	}
}

var (
	// ErrSchemaNotFound is matched (errors.Is) by a CompileError for a schema
	// document that does not exist, including every external reference.
	ErrSchemaNotFound = errors.New("schema does not exist")
	// ErrExternalRef is matched (errors.Is) by a CompileError caused by a
	// file://, http(s):// or working-directory-relative reference, which
	// gatehouse never reads.
	ErrExternalRef = errors.New("schema reference outside the policy repository")
)

// CompileError reports a schema reference that could not be loaded or compiled.
// Its text is the one Cerbos 0.55 prints for the same problem.
type CompileError struct {
	// Ref is the reference given to Compile.
	Ref string
	msg string
	err error
}

func (e *CompileError) Error() string { return e.msg }

// Unwrap returns the underlying cause.
func (e *CompileError) Unwrap() error { return e.err }

// missingError is returned by the document loader for a schema document that
// does not exist or is never read.
type missingError struct {
	// display is how Cerbos names the document: "_schemas/x.json" for a
	// repository file, the path of a file URL, or the URL itself.
	display  string
	external bool
}

func (e *missingError) Error() string { return fmt.Sprintf("schema %s doesn't exist", e.display) }

func (e *missingError) Is(target error) bool {
	return target == ErrSchemaNotFound || (e.external && target == ErrExternalRef)
}

// invalidJSONError is returned by the document loader for a document that is
// not JSON.
type invalidJSONError struct {
	url string
	err error
}

func (e *invalidJSONError) Error() string { return fmt.Sprintf("invalid json %s: %v", e.url, e.err) }

func (e *invalidJSONError) Unwrap() error { return e.err }

// unsupportedSchemeError is returned by the document loader for a URL scheme it
// does not know.
type unsupportedSchemeError struct{ url string }

func (e *unsupportedSchemeError) Error() string { return "no Loader found for " + e.url }
