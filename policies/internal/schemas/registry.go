package schemas

import (
	"io/fs"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// Registry resolves and compiles schemas from a policy repository's top-level
// _schemas directory. It is safe for concurrent use after construction;
// compiled schemas are cached.
type Registry struct {
	fsys fs.FS

	mu       sync.Mutex // guards the fields below and serialises compilation
	docs     map[string]document
	compiled map[string]compiled
}

// compiled is the cached outcome of compiling one reference.
type compiled struct {
	schema *Schema
	err    error
}

// NewRegistry returns a registry reading schema documents from fsys, which is
// rooted at the _schemas directory. A nil fsys holds no schemas.
func NewRegistry(fsys fs.FS) *Registry {
	return &Registry{
		fsys:     fsys,
		docs:     map[string]document{},
		compiled: map[string]compiled{},
	}
}

// Compile returns the schema ref names, e.g. "cerbos:///principal.json" or
// "cerbos:///resources/leave_request.json#/$defs/attrs". Results, failures
// included, are cached per ref. A failure is a *CompileError.
func (r *Registry) Compile(ref string) (*Schema, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if c, ok := r.compiled[ref]; ok {
		return c.schema, c.err
	}
	s, err := r.compile(ref)
	if err != nil {
		s = nil
	}
	r.compiled[ref] = compiled{schema: s, err: err}
	return s, err
}

// compile does the work of Compile; the caller holds r.mu.
func (r *Registry) compile(ref string) (*Schema, error) {
	top, _ := splitFragment(ref)
	// Load the top-level document first: a reference without a scheme must
	// never reach the jsonschema compiler, which would resolve it against the
	// working directory.
	if _, err := r.load(top); err != nil {
		return nil, r.describe(ref, top, err)
	}

	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	c.AssertContent()
	registerFormats(c)
	ld := &compileLoader{r: r, used: map[string]any{}}
	c.UseLoader(ld)

	root, err := c.Compile(ref)
	if err != nil {
		return nil, r.describe(ref, top, err)
	}
	index, err := indexSchemas(root)
	if err != nil {
		return nil, r.describe(ref, top, err)
	}
	return &Schema{ref: ref, root: root, index: index, docs: ld.used}, nil
}
