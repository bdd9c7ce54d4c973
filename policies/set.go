package policies

import (
	"fmt"
	"io/fs"
	"os"
	"time"

	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"

	"github.com/gatehouse/gatehouse/policies/internal/schemas"
)

// SchemaEnforcement says what happens when attributes fail their JSON Schema.
type SchemaEnforcement int

const (
	// SchemaEnforcementNone skips validation (Cerbos's default).
	SchemaEnforcementNone SchemaEnforcement = iota
	// SchemaEnforcementWarn reports validation errors and evaluates as usual.
	SchemaEnforcementWarn
	// SchemaEnforcementReject reports validation errors and denies every action.
	SchemaEnforcementReject
)

// ParseSchemaEnforcement parses "none", "warn" or "reject".
func ParseSchemaEnforcement(s string) (SchemaEnforcement, error) {
	switch s {
	case "", "none":
		return SchemaEnforcementNone, nil
	case "warn":
		return SchemaEnforcementWarn, nil
	case "reject":
		return SchemaEnforcementReject, nil
	}
	return 0, fmt.Errorf("invalid schema enforcement %q: want none, warn or reject", s)
}

func (e SchemaEnforcement) String() string {
	switch e {
	case SchemaEnforcementWarn:
		return "warn"
	case SchemaEnforcementReject:
		return "reject"
	}
	return "none"
}

// Config holds the engine settings that change decisions. The zero value is gatehouse's
// default: strict evaluation, strict scope search, version "default", root scope, no
// schema enforcement, no globals, the system clock.
type Config struct {
	// DefaultPolicyVersion applies when a request names no policy version ("default" if empty).
	DefaultPolicyVersion string
	// DefaultScope applies when a request names no scope.
	DefaultScope string
	// LenientScopeSearch lets a request for a scope without policies use the nearest
	// ancestor that has some, instead of skipping that policy family.
	LenientScopeSearch bool
	// LenientEvaluation reproduces Cerbos's default (strictEvaluation: false): a rule whose
	// condition fails with an error is skipped, even a DENY rule. When false (gatehouse's
	// default), an erroring rule denies the action.
	LenientEvaluation bool
	// SchemaEnforcement decides what attribute schema violations do.
	SchemaEnforcement SchemaEnforcement
	// Globals are the values policies read as G / globals.
	Globals map[string]any
	// Now is the clock for now() and timeSince(); nil means time.Now. It is read once per Check.
	Now func() time.Time
	// IgnoreSchemas compiles the policies without their attribute schemas (`gatehouse
	// compile --ignore-schemas`): schema references are neither loaded nor checked, so
	// missing or invalid schema files are not problems, and attributes are not validated.
	IgnoreSchemas bool
}

func (c Config) defaultVersion() string {
	if c.DefaultPolicyVersion == "" {
		return "default"
	}
	return c.DefaultPolicyVersion
}

// policyID identifies a resource, principal or role policy.
type policyID struct {
	name    string // sanitised kind, principal id or role
	version string
	scope   string
}

// Set is a compiled policy repository. It is immutable and safe for concurrent use.
type Set struct {
	cfg        Config
	globals    *objectValue
	resources  map[policyID]*resourcePolicy
	principals map[policyID]*principalPolicy
	roles      map[policyID]*rolePolicy
	// parentRoles lists the parent roles of a role in a scope, from its role policies of
	// every version.
	parentRoles map[roleScope][]string
	// principalVersions records the scopes and versions that have principal policies.
	principalVersions map[scopeVersion]bool
	// roleScopes records the scopes that have role policies.
	roleScopes map[string]bool
	// rolesByScope lists the role policies of each scope and version.
	rolesByScope map[scopeVersion][]*rolePolicy
	// resourceChains maps every scope holding a resource or role policy to its chain: the
	// scope and its ancestors that hold such policies, most specific first. principalChains
	// does the same for principal policies. Scope search tests existence per scope, not per
	// kind or version, as Cerbos does.
	resourceChains  map[string][]string
	principalChains map[string][]string
	policyCount     int
	hash            string
}

// LoadDir reads and compiles the policy repository in dir.
func LoadDir(dir string, cfg Config) (*Set, error) {
	_, set, err := LoadDirRepository(dir, cfg)
	return set, err
}

// LoadDirRepository is LoadDir that also returns the repository it read (see
// LoadRepository).
func LoadDirRepository(dir string, cfg Config) (*Repository, *Set, error) {
	info, err := os.Stat(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("policy directory: %w", err)
	}
	if !info.IsDir() {
		return nil, nil, fmt.Errorf("policy directory %s: not a directory", dir)
	}
	return LoadRepository(os.DirFS(dir), cfg)
}

// Load reads and compiles the policy repository in fsys. All problems are returned in
// one ProblemList.
func Load(fsys fs.FS, cfg Config) (*Set, error) {
	_, set, err := LoadRepository(fsys, cfg)
	return set, err
}

// LoadRepository is Load that also returns the repository it read, for callers that
// compile it again with other settings (policy test suites), without reading the files
// twice.
func LoadRepository(fsys fs.FS, cfg Config) (*Repository, *Set, error) {
	ps := &problems{}
	repo := readRepository(fsys, ps)
	set := compileRepository(repo, cfg, ps)
	if err := ps.err(); err != nil {
		return nil, nil, err
	}
	return repo, set, nil
}

// Compile compiles a repository read with ReadRepository.
func Compile(repo *Repository, cfg Config) (*Set, error) {
	ps := &problems{}
	set := compileRepository(repo, cfg, ps)
	if err := ps.err(); err != nil {
		return nil, err
	}
	return set, nil
}

// PolicyCount is the number of enabled resource, principal and role policies in the set.
func (s *Set) PolicyCount() int { return s.policyCount }

// Hash identifies the repository the set was compiled from: a hex digest of every policy
// and schema file's path and content ("" for a Repository not read from files).
func (s *Set) Hash() string { return s.hash }

// Config returns the settings the set was compiled with.
func (s *Set) Config() Config { return s.cfg }

func newGlobals(g map[string]any) *objectValue {
	ns := constNamespace{}
	for k, v := range g {
		ns[k] = toCELValue(v)
	}
	return &objectValue{typ: globalsType, obj: ns}
}

// constNamespace is the Go value behind C and G.
type constNamespace map[string]ref.Val

func (c constNamespace) lookup(name string) (ref.Val, bool) {
	v, ok := c[name]
	return v, ok
}

// toCELValue converts a JSON-like Go value into a CEL value once, so evaluation does not
// convert it again on every access.
func toCELValue(v any) ref.Val {
	switch x := v.(type) {
	case nil:
		return types.NullValue
	case string:
		return types.String(x)
	case bool:
		return types.Bool(x)
	case float64:
		return types.Double(x)
	case int:
		return types.Double(float64(x))
	case int64:
		return types.Double(float64(x))
	case []any:
		vals := make([]ref.Val, len(x))
		for i, e := range x {
			vals[i] = toCELValue(e)
		}
		return types.NewRefValList(types.DefaultTypeAdapter, vals)
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = toCELValue(e)
		}
		return types.NewStringInterfaceMap(types.DefaultTypeAdapter, m)
	case ref.Val:
		return x
	}
	return types.DefaultTypeAdapter.NativeToValue(v)
}

var _ = schemas.SourcePrincipal
