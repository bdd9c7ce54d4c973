package reqgen

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"
)

// Options tunes a Generator.
type Options struct {
	// Signer signs auxData JWTs; nil means requests carry no auxData.
	Signer *Signer
	// KeySetID is sent as keySetId with about half of the JWTs; empty means
	// never (valid while the server has a single key set).
	KeySetID string
	// Now is the reference for generated timestamps and JWT expiry (a day
	// later); zero means time.Now(). Tokens are verified by the server, so it
	// should be close to the real time.
	Now time.Time
	// MaxResources and MaxActions bound resources per request and actions per
	// resource; 0 means 4 and 5. Cerbos rejects more than 50 of either.
	MaxResources, MaxActions int
}

// Generator produces random CheckResources requests aimed at a Catalog's
// policies. The same catalog, seed and options give the same sequence of
// requests (JWT signatures aside: ECDSA signing is randomised). A Generator
// is not safe for concurrent use.
type Generator struct {
	cat  *Catalog
	rng  *rand.Rand
	opts Options
	n    int

	// Per-request state.
	snake       bool           // spell protocol fields in snake_case
	principalID string         // for ownership conditions
	values      map[string]any // "P:path" / "R:path" -> value, for peers
}

// New returns a Generator over cat seeded with seed.
func New(cat *Catalog, seed uint64, opts Options) *Generator {
	if opts.Now.IsZero() {
		opts.Now = time.Now()
	}
	if opts.MaxResources <= 0 {
		opts.MaxResources = 4
	}
	if opts.MaxActions <= 0 {
		opts.MaxActions = 5
	}
	return &Generator{cat: cat, rng: rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15)), opts: opts}
}

// Values outside the store, so that requests also miss rules.
var (
	genericIDs     = []string{"alice", "bob", "john", "sally", "mickey_mouse"}
	unknownRoles   = []string{"guest", "Employee", "auditor"}
	unknownKinds   = []string{"unknown_kind", "Leave_request", "widget:part"}
	unknownVers    = []string{"v2", "latest", "20210211"}
	unknownActions = []string{"archive", "view:", "VIEW", "view:public:extra", "approve_all"}
	scopeWords     = []string{"x", "uk", "hr", "brighton", "west-1"}
	unknownScopes  = []string{"foo", "acmex", "acme_corp.hr", "Acme"}
	globWords      = []string{"public", "private", "x"}
	plainWords     = []string{"GB", "US", "marketing", "engineering", "design", "x"}
)

// Next returns the next request as one line of JSON in the Cerbos HTTP shape.
func (g *Generator) Next() ([]byte, error) {
	g.n++
	g.snake = g.chance(0.05)
	g.values = map[string]any{}

	nres := 1 + g.rng.IntN(g.opts.MaxResources)
	var entries []any
	var resources []map[string]any
	var firstKind, firstScope, firstVersion string
	for i := 0; i < nres; i++ {
		res, kind, scope, version := g.resource()
		if i == 0 {
			firstKind, firstScope, firstVersion = kind, scope, version
		}
		resources = append(resources, res)
		entries = append(entries, map[string]any{"actions": g.actions(kind), "resource": res})
	}
	req := map[string]any{
		g.key("requestId"):   fmt.Sprintf("gen-%d", g.n),
		g.key("includeMeta"): true,
		"principal":          g.principal(firstKind, firstScope, firstVersion),
		"resources":          entries,
	}
	// Resource attributes copy principal values, so build them last.
	for _, res := range resources {
		if attr := g.attrs("R", g.cat.ResourceAttrs); len(attr) > 0 {
			res["attr"] = attr
		}
		g.clearSide("R")
	}
	aux, err := g.auxData()
	if err != nil {
		return nil, err
	}
	if aux != nil {
		req[g.key("auxData")] = aux
	}
	return json.Marshal(req)
}

// key spells a protocol field name; Cerbos accepts protobuf snake_case too.
func (g *Generator) key(camel string) string {
	if g.snake {
		return snakeCase(camel)
	}
	return camel
}

// principal builds the principal, with roles that matter for kind and the
// resource's scope and version at times.
func (g *Generator) principal(kind, resScope, resVersion string) map[string]any {
	switch r := g.rng.Float64(); {
	case r < 0.2 && len(g.cat.KindPrincipals[kind]) > 0:
		g.principalID = g.pick(g.cat.KindPrincipals[kind])
	case r < 0.35 && len(g.cat.PrincipalIDs) > 0:
		g.principalID = g.pick(g.cat.PrincipalIDs)
	case r < 0.5 && len(g.cat.IDLiterals) > 0:
		g.principalID = g.pick(g.cat.IDLiterals)
	default:
		g.principalID = g.pick(genericIDs)
	}
	p := map[string]any{"id": g.principalID, "roles": g.roles(kind)}
	switch r := g.rng.Float64(); {
	case r < 0.5:
		p[g.key("policyVersion")] = resVersion
	case r < 0.8:
		p[g.key("policyVersion")] = g.version("")
	}
	switch r := g.rng.Float64(); {
	case r < 0.3:
		p["scope"] = resScope
	case r < 0.6:
		p["scope"] = g.scope("")
	}
	if attr := g.attrs("P", g.cat.PrincipalAttrs); len(attr) > 0 {
		p["attr"] = attr
	}
	return p
}

func (g *Generator) roles(kind string) []string {
	own := g.cat.KindRoles[kind]
	n := 1
	if r := g.rng.Float64(); r > 0.9 {
		n = 3
	} else if r > 0.6 {
		n = 2
	}
	var roles []string
	for attempts := 0; len(roles) < n && attempts < 20; attempts++ {
		var role string
		switch r := g.rng.Float64(); {
		case r < 0.65 && len(own) > 0:
			role = g.instantiate(g.pick(own))
		case r < 0.65:
			role = g.instantiate(g.pick(g.cat.Roles))
		case r < 0.93 && len(g.cat.Roles) > 0:
			role = g.instantiate(g.pick(g.cat.Roles))
		default:
			role = g.pick(unknownRoles)
		}
		if !slices.Contains(roles, role) {
			roles = append(roles, role)
		}
	}
	return roles
}

// resource returns the resource of one resources[] entry (attributes are
// added later) with its kind, scope and version.
func (g *Generator) resource() (map[string]any, string, string, string) {
	kind := g.kind()
	scope, version := g.scope(kind), g.version(kind)
	res := map[string]any{"kind": kind, "id": fmt.Sprintf("XX%d", 100+g.rng.IntN(60))}
	if version != "" {
		res[g.key("policyVersion")] = version
	}
	if scope != "" {
		res["scope"] = scope
	}
	return res, kind, scope, version
}

func (g *Generator) kind() string {
	all := append(slices.Clone(g.cat.Kinds), g.cat.OtherKinds...)
	switch r := g.rng.Float64(); {
	case r < 0.8 || (r < 0.88 && len(g.cat.OtherKinds) == 0):
		return g.weightedKind()
	case r < 0.88:
		return g.pick(g.cat.OtherKinds)
	case r < 0.95:
		// The other spelling of a kind, to probe name sanitising.
		k := g.pick(all)
		if strings.Contains(k, ":") {
			return strings.ReplaceAll(k, ":", "_")
		}
		if strings.Contains(k, "_") {
			return strings.Replace(k, "_", ":", 1)
		}
		return k
	}
	return g.pick(unknownKinds)
}

// weightedKind picks a kind with a resource policy, favouring kinds with
// many rule actions (more rules, more to get wrong).
func (g *Generator) weightedKind() string {
	total := 0
	for _, k := range g.cat.Kinds {
		total += 1 + len(g.cat.KindActions[k])
	}
	n := g.rng.IntN(total)
	for _, k := range g.cat.Kinds {
		if n -= 1 + len(g.cat.KindActions[k]); n < 0 {
			return k
		}
	}
	return g.pick(g.cat.Kinds)
}

// scope picks a resource scope for kind (any kind when kind is "").
func (g *Generator) scope(kind string) string {
	own := g.cat.KindScopes[kind]
	switch r := g.rng.Float64(); {
	case r < 0.45 || (r < 0.75 && len(own) == 0):
		return ""
	case r < 0.75:
		return g.pick(own)
	case r < 0.83 && len(g.cat.Scopes) > 0:
		return g.pick(g.cat.Scopes) + "." + g.pick(scopeWords)
	case r < 0.9 && len(g.cat.Scopes) > 0:
		return g.pick(g.cat.Scopes)
	case r < 0.95:
		return g.pick(unknownScopes)
	}
	return "."
}

// version picks a policy version for kind (any kind when kind is "").
func (g *Generator) version(kind string) string {
	own := g.cat.KindVersions[kind]
	switch r := g.rng.Float64(); {
	case r < 0.35 || (r < 0.75 && len(own) == 0):
		return ""
	case r < 0.75:
		return g.pick(own)
	case r < 0.87:
		return "default"
	case r < 0.95 && len(g.cat.Versions) > 0:
		return g.pick(g.cat.Versions)
	}
	return g.pick(unknownVers)
}

func (g *Generator) actions(kind string) []string {
	n := 1 + g.rng.IntN(g.opts.MaxActions)
	own := g.cat.KindActions[kind]
	var acts []string
	for attempts := 0; len(acts) < n && attempts < 4*n; attempts++ {
		var a string
		switch r := g.rng.Float64(); {
		case r < 0.7 && len(own) > 0:
			a = g.pick(own)
		case r < 0.9 && len(g.cat.Actions) > 0:
			a = g.pick(g.cat.Actions)
		default:
			a = g.pick(unknownActions)
		}
		if a = g.instantiate(a); !slices.Contains(acts, a) {
			acts = append(acts, a)
		}
	}
	return acts
}

// instantiate turns a glob pattern into a name it matches (or, sometimes, one
// it does not match, or the pattern itself); plain names sometimes get a
// ":x" suffix.
func (g *Generator) instantiate(pattern string) string {
	if !strings.Contains(pattern, "*") {
		if g.chance(0.05) {
			return pattern + ":x"
		}
		return pattern
	}
	if g.chance(0.1) {
		return pattern
	}
	var b strings.Builder
	for i, part := range strings.Split(pattern, "*") {
		if i > 0 {
			if g.chance(0.08) {
				b.WriteString("a:b") // crosses a ':' separator
			} else {
				b.WriteString(g.pick(globWords))
			}
		}
		b.WriteString(part)
	}
	return b.String()
}

func (g *Generator) chance(p float64) bool { return g.rng.Float64() < p }

func (g *Generator) pick(list []string) string {
	if len(list) == 0 {
		return "x"
	}
	return list[g.rng.IntN(len(list))]
}
