package policies

import (
	"fmt"
	"sort"
	"strings"

	"github.com/gatehouse/gatehouse/policies/internal/schemas"
)

// setBuilder turns a repository into a Set: index checks first, then compilation.
type setBuilder struct {
	cfg   Config
	probs *problems
	env   *env
	set   *Set

	resources   map[policyID]*Policy
	principals  map[policyID]*Policy
	roles       map[policyID]*Policy
	derived     map[string]*Policy
	exportVars  map[string]*Policy
	exportConst map[string]*Policy

	compiledDerived map[string]map[string]*derivedRole // set name → role name → role
	// disabled holds the disabled policies by key, to explain why a dependency is missing.
	disabled map[string]*Policy
	// duplicates are compiled only to report their own problems too.
	duplicates    []*Policy
	schemaReg     *schemas.Registry
	nextEnvID     int
	nextDerivedID int
}

func compileRepository(repo *Repository, cfg Config, ps *problems) *Set {
	e, err := celEnv()
	if err != nil {
		ps.add(ErrCompile, "", Position{}, "%v", err)
		return nil
	}
	b := &setBuilder{
		cfg:   cfg,
		probs: ps,
		env:   e,
		set: &Set{
			cfg:               cfg,
			hash:              repo.Hash,
			globals:           newGlobals(cfg.Globals),
			resources:         map[policyID]*resourcePolicy{},
			principals:        map[policyID]*principalPolicy{},
			roles:             map[policyID]*rolePolicy{},
			parentRoles:       map[roleScope][]string{},
			rolesByScope:      map[scopeVersion][]*rolePolicy{},
			roleScopes:        map[string]bool{},
			principalVersions: map[scopeVersion]bool{},
			resourceChains:    map[string][]string{},
			principalChains:   map[string][]string{},
		},
		resources:       map[policyID]*Policy{},
		principals:      map[policyID]*Policy{},
		roles:           map[policyID]*Policy{},
		derived:         map[string]*Policy{},
		exportVars:      map[string]*Policy{},
		exportConst:     map[string]*Policy{},
		compiledDerived: map[string]map[string]*derivedRole{},
		disabled:        map[string]*Policy{},
		schemaReg:       schemas.NewRegistry(repo.Schemas),
	}
	b.index(repo.Policies)
	b.checkAncestors()
	b.checkScopePermissions()
	b.compileAll()
	return b.set
}

// index files every enabled policy under its identity and reports duplicates.
func (b *setBuilder) index(pols []*Policy) {
	sort.SliceStable(pols, func(i, j int) bool { return pols[i].File < pols[j].File })
	for _, p := range pols {
		if p.Kind == KindUnknown || !p.complete() {
			continue
		}
		if p.Disabled {
			if _, dup := b.disabled[p.Key()]; !dup {
				b.disabled[p.Key()] = p
			}
			continue
		}
		var prev *Policy
		switch p.Kind {
		case KindResource:
			prev = putOnce(b.resources, policyID{sanitizeName(p.Resource.Resource), p.Resource.Version, p.Resource.Scope}, p)
		case KindPrincipal:
			prev = putOnce(b.principals, policyID{sanitizeName(p.Principal.Principal), p.Principal.Version, p.Principal.Scope}, p)
		case KindRole:
			prev = putOnce(b.roles, policyID{p.Role.Role, p.Role.Version, p.Role.Scope}, p)
		case KindDerivedRoles:
			prev = putOnce(b.derived, p.DerivedRoles.Name, p)
		case KindExportVariables:
			prev = putOnce(b.exportVars, p.ExportVariables.Name, p)
		case KindExportConstants:
			prev = putOnce(b.exportConst, p.ExportConstants.Name, p)
		}
		if prev != nil {
			b.probs.add(ErrRepository, p.File, p.Pos, "duplicate policy definition: %s is already defined in %s", p.Key(), prev.File)
			b.duplicates = append(b.duplicates, p)
		}
	}
}

// complete reports whether the policy body parsed far enough to be indexed.
func (p *Policy) complete() bool {
	switch p.Kind {
	case KindResource:
		return p.Resource != nil
	case KindPrincipal:
		return p.Principal != nil
	case KindRole:
		return p.Role != nil
	case KindDerivedRoles:
		return p.DerivedRoles != nil
	case KindExportVariables:
		return p.ExportVariables != nil
	case KindExportConstants:
		return p.ExportConstants != nil
	}
	return false
}

func putOnce[K comparable](m map[K]*Policy, k K, p *Policy) *Policy {
	if prev, ok := m[k]; ok {
		return prev
	}
	m[k] = p
	return nil
}

// parentScopes returns the ancestors of a scope, nearest first, ending with the root "".
func parentScopes(scope string) []string {
	var out []string
	for scope != "" {
		i := strings.LastIndexByte(scope, '.')
		if i < 0 {
			scope = ""
		} else {
			scope = scope[:i]
		}
		out = append(out, scope)
	}
	return out
}

// checkAncestors requires every scoped resource or principal policy to have a policy for
// the same kind (or principal) and version in each ancestor scope. A role policy in an
// ancestor scope satisfies a resource policy's requirement. Each missing policy is
// reported once, in the file of its most specific descendant, naming every descendant;
// a disabled policy that would fill the gap is reported too.
func (b *setBuilder) checkAncestors() {
	roleScopes := map[string]bool{}
	for id := range b.roles {
		roleScopes[id.scope] = true
	}
	check := func(m map[policyID]*Policy, key func(policyID) string, allowRoleScopes bool) {
		missing := map[string][]*Policy{}
		for id, p := range m {
			if !isScope(id.scope) {
				continue // the scope itself is reported as invalid
			}
			for _, anc := range parentScopes(id.scope) {
				if _, ok := m[policyID{id.name, id.version, anc}]; ok {
					continue
				}
				if allowRoleScopes && roleScopes[anc] {
					continue
				}
				k := key(policyID{id.name, id.version, anc})
				missing[k] = append(missing[k], p)
			}
		}
		keys := make([]string, 0, len(missing))
		for k := range missing {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			desc := missing[k]
			sort.Slice(desc, func(i, j int) bool {
				di, dj := strings.Count(desc[i].scope(), ".")+1, strings.Count(desc[j].scope(), ".")+1
				if di != dj {
					return di > dj
				}
				return desc[i].File < desc[j].File
			})
			names := make([]string, len(desc))
			for i, d := range desc {
				names[i] = d.Key()
			}
			sort.Strings(names)
			list := strings.Join(names, ", ")
			noun := "policy"
			if len(names) > 1 {
				noun = "policies"
			}
			b.probs.add(ErrRepository, desc[0].File, desc[0].Pos,
				"missing policy definition: scoped policy %s is not found but is required by descendant %s %s", k, noun, list)
			if d, ok := b.disabled[k]; ok {
				b.probs.add(ErrRepository, d.File, d.Pos,
					"disabled policy: %s is disabled but is required by descendant %s %s (remove disabled: true or disable the descendants)", k, noun, list)
			}
		}
	}
	check(b.resources, func(id policyID) string { return resourceKey(id.name, id.version, id.scope) }, true)
	check(b.principals, func(id policyID) string { return principalKey(id.name, id.version, id.scope) }, false)
}

// disabledNote explains that an import names a disabled policy, or returns "".
func (b *setBuilder) disabledNote(key string) string {
	if d, ok := b.disabled[key]; ok {
		return fmt.Sprintf(" (%s in %s is disabled)", key, d.File)
	}
	return ""
}

// checkScopePermissions rejects scopes whose resource and principal policies disagree on
// scopePermissions (unset counts as OVERRIDE_PARENT). Cerbos applies one setting per scope,
// chosen by load order, so such a repository has no well-defined meaning.
func (b *setBuilder) checkScopePermissions() {
	type seen struct {
		perms ScopePermissions
		p     *Policy
	}
	byScope := map[string]seen{}
	var all []*Policy
	for _, p := range b.resources {
		all = append(all, p)
	}
	for _, p := range b.principals {
		all = append(all, p)
	}
	sort.Slice(all, func(i, j int) bool { return all[i].File < all[j].File })
	for _, p := range all {
		perms := ScopePermissionsOverrideParent
		if p.Kind == KindResource && p.Resource.ScopePermissions == ScopePermissionsRequireParentalConsent ||
			p.Kind == KindPrincipal && p.Principal.ScopePermissions == ScopePermissionsRequireParentalConsent {
			perms = ScopePermissionsRequireParentalConsent
		}
		scope := p.scope()
		if s, ok := byScope[scope]; ok {
			if s.perms != perms {
				b.probs.add(ErrRepository, p.File, p.KindPos,
					"conflicting scopePermissions in scope %q: %s is %s but %s (%s) is %s",
					scope, p.Key(), perms, s.p.Key(), s.p.File, s.perms)
			}
			continue
		}
		byScope[scope] = seen{perms, p}
	}
}

func (b *setBuilder) compileAll() {
	for id, p := range b.derived {
		b.compiledDerived[id] = b.compileDerivedRoles(p)
	}
	for id, p := range b.roles {
		if rp := b.compileRolePolicy(p); rp != nil {
			b.set.roles[id] = rp
			b.set.roleScopes[id.scope] = true
			sv := scopeVersion{id.scope, id.version}
			b.set.rolesByScope[sv] = append(b.set.rolesByScope[sv], rp)
			key := roleScope{id.name, id.scope}
			for _, parent := range rp.parents {
				if !containsString(b.set.parentRoles[key], parent) {
					b.set.parentRoles[key] = append(b.set.parentRoles[key], parent)
				}
			}
			b.set.resourceChains[id.scope] = nil
		}
	}
	for id, p := range b.resources {
		if rp := b.compileResourcePolicy(p); rp != nil {
			b.set.resources[id] = rp
			b.set.resourceChains[id.scope] = nil
		}
	}
	for id, p := range b.principals {
		if pp := b.compilePrincipalPolicy(p); pp != nil {
			b.set.principals[id] = pp
			b.set.principalChains[id.scope] = nil
			b.set.principalVersions[scopeVersion{id.scope, id.version}] = true
		}
	}
	for _, p := range b.duplicates {
		switch p.Kind {
		case KindResource:
			b.compileResourcePolicy(p)
		case KindPrincipal:
			b.compilePrincipalPolicy(p)
		case KindRole:
			b.compileRolePolicy(p)
		case KindDerivedRoles:
			b.compileDerivedRoles(p)
		case KindExportVariables, KindExportConstants:
			b.buildEnv(p, p.Key(), Constants{}, Variables{}, nil)
		}
	}
	b.set.policyCount = len(b.set.resources) + len(b.set.principals) + len(b.set.roles)
	buildChains(b.set.resourceChains)
	buildChains(b.set.principalChains)
	// Schemas come from the root-scoped policy of the same kind and version.
	for id, rp := range b.set.resources {
		if root, ok := b.set.resources[policyID{id.name, id.version, ""}]; ok && id.scope != "" {
			rp.principalSchema, rp.resourceSchema = root.principalSchema, root.resourceSchema
		}
	}
}

func (b *setBuilder) compiler(file string) *exprCompiler {
	return &exprCompiler{env: b.env, probs: b.probs, file: file}
}

func (b *setBuilder) compileSchema(p *Policy, ref *SchemaRef, what string) *schemaCheck {
	if ref == nil {
		return nil
	}
	s, err := b.schemaReg.Compile(ref.Ref)
	if err != nil {
		b.probs.add(ErrCompile, p.File, ref.Pos, "invalid schema: cannot load %s schema %q: %v", what, ref.Ref, err)
		return nil
	}
	sc := &schemaCheck{schema: s}
	if len(ref.IgnoreWhenActions) > 0 {
		sc.ignore = newMatcher(ref.IgnoreWhenActions, ':')
	}
	return sc
}

func (b *setBuilder) compileResourcePolicy(p *Policy) *resourcePolicy {
	body := p.Resource
	key := p.Key()
	env := b.buildEnv(p, key, body.Constants, body.Variables, p.TopVariables)
	rp := &resourcePolicy{key: key, scope: body.Scope, perms: body.ScopePermissions}
	if body.Schemas != nil && !b.cfg.IgnoreSchemas {
		rp.principalSchema = b.compileSchema(p, body.Schemas.Principal, "principal")
		rp.resourceSchema = b.compileSchema(p, body.Schemas.Resource, "resource")
	}
	imported := b.importedDerivedRoles(p, key, body.ImportDerivedRoles)
	used := map[*derivedRole]bool{}
	unknown := map[string][]Ref{}
	for _, r := range body.Rules {
		cr := &rule{
			name:    r.Name,
			src:     key + "#" + r.Name,
			actions: newMatcher(r.Actions, ':'),
			effect:  r.Effect,
			env:     env.env,
		}
		if len(r.Roles) > 0 {
			cr.roles = newMatcher(r.Roles)
		}
		for _, ref := range r.DerivedRoles {
			dr, ok := b.resolveDerivedRole(p, ref, imported, unknown)
			if !ok {
				continue
			}
			cr.derived = append(cr.derived, dr)
			if !used[dr] {
				used[dr] = true
				rp.derived = append(rp.derived, dr)
			}
		}
		cr.cond = env.condition(r.Condition)
		cr.output = env.output(r.Output)
		cr.requireParentalConsent(body.ScopePermissions)
		rp.rules = append(rp.rules, cr)
	}
	reportUnknownDerivedRoles(b.probs, p.File, unknown)
	return rp
}

// reportUnknownDerivedRoles reports each unknown derived role once, at its last use, as
// Cerbos does, listing where else it is used.
func reportUnknownDerivedRoles(ps *problems, file string, unknown map[string][]Ref) {
	for name, refs := range unknown {
		last := refs[len(refs)-1]
		also := ""
		if len(refs) > 1 {
			at := make([]string, len(refs)-1)
			for i, r := range refs[:len(refs)-1] {
				at[i] = r.Pos.String()
			}
			also = " (also used at " + strings.Join(at, ", ") + ")"
		}
		ps.add(ErrCompile, file, last.Pos, "unknown derived role: derived role '%s' is not defined in any imports%s", name, also)
	}
}

// importedDerivedRoles maps each derived role name to the definitions found in the
// policy's imports (more than one means ambiguous).
func (b *setBuilder) importedDerivedRoles(p *Policy, key string, imports []Ref) map[string][]importedRole {
	out := map[string][]importedRole{}
	for _, imp := range imports {
		set, ok := b.compiledDerived[imp.Name]
		if !ok {
			b.probs.add(ErrRepository, p.File, imp.Pos, "import not found: cannot find derived roles '%s' imported by policy %s%s", imp.Name, key, b.disabledNote("derived_roles."+imp.Name))
			continue
		}
		for name, dr := range set {
			out[name] = append(out[name], importedRole{dr: dr, imp: imp, file: b.derived[imp.Name].File})
		}
	}
	return out
}

type importedRole struct {
	dr   *derivedRole
	imp  Ref
	file string
}

func (b *setBuilder) resolveDerivedRole(p *Policy, ref Ref, imported map[string][]importedRole, unknown map[string][]Ref) (*derivedRole, bool) {
	cands := imported[ref.Name]
	switch len(cands) {
	case 0:
		unknown[ref.Name] = append(unknown[ref.Name], ref)
		return nil, false
	case 1:
		return cands[0].dr, true
	}
	var where []string
	for _, c := range cands {
		where = append(where, fmt.Sprintf("%s (imported as %q at %s)", c.file, c.imp.Name, c.imp.Pos))
	}
	b.probs.add(ErrCompile, p.File, ref.Pos, "ambiguous derived role: derived role %q is defined in more than one import: %s", ref.Name, strings.Join(where, ", "))
	return nil, false
}

func (b *setBuilder) compileDerivedRoles(p *Policy) map[string]*derivedRole {
	body := p.DerivedRoles
	env := b.buildEnv(p, p.Key(), body.Constants, body.Variables, p.TopVariables)
	out := make(map[string]*derivedRole, len(body.Definitions))
	for _, def := range body.Definitions {
		if _, dup := out[def.Name]; dup {
			continue
		}
		dr := &derivedRole{
			id:      b.nextDerivedID,
			name:    def.Name,
			parents: newMatcher(def.ParentRoles),
			cond:    env.condition(def.Condition),
			env:     env.env,
		}
		dr.usesRuntime = dr.cond.usesRuntime()
		out[def.Name] = dr
		b.nextDerivedID++
	}
	return out
}

func (b *setBuilder) compilePrincipalPolicy(p *Policy) *principalPolicy {
	body := p.Principal
	key := p.Key()
	env := b.buildEnv(p, key, body.Constants, body.Variables, p.TopVariables)
	pp := &principalPolicy{key: key, scope: body.Scope, perms: body.ScopePermissions}
	for _, r := range body.Rules {
		resources := newMatcher([]string{sanitizeName(r.Resource)}, ':')
		for _, a := range r.Actions {
			cr := &rule{
				name:      a.Name,
				src:       key + "#" + a.Name,
				actions:   newMatcher([]string{a.Action}, ':'),
				resources: resources,
				effect:    a.Effect,
				env:       env.env,
				cond:      env.condition(a.Condition),
				output:    env.output(a.Output),
			}
			cr.requireParentalConsent(body.ScopePermissions)
			pp.rules = append(pp.rules, cr)
		}
	}
	return pp
}

func (b *setBuilder) compileRolePolicy(p *Policy) *rolePolicy {
	body := p.Role
	key := p.Key()
	env := b.buildEnv(p, key, body.Constants, body.Variables, nil)
	rp := &rolePolicy{key: key, role: body.Role, scope: body.Scope, parents: body.ParentRoles}
	for _, r := range body.Rules {
		rp.rules = append(rp.rules, &roleRule{
			src:       key + "#" + r.Name,
			resources: newMatcher([]string{r.Resource}, ':'),
			actions:   newMatcher(r.AllowActions, ':'),
			cond:      env.condition(r.Condition),
			output:    env.output(r.Output),
			env:       env.env,
		})
	}
	return rp
}

// buildChains fills in, for each scope key of chains, the scope followed by those of its
// ancestors that are keys too.
func buildChains(chains map[string][]string) {
	for scope := range chains {
		chain := []string{scope}
		for _, anc := range parentScopes(scope) {
			if _, ok := chains[anc]; ok {
				chain = append(chain, anc)
			}
		}
		chains[scope] = chain
	}
}

// requireParentalConsent applies REQUIRE_PARENTAL_CONSENT_FOR_ALLOWS to a rule: a
// conditional ALLOW becomes a DENY when its condition does not hold. (An unconditional
// ALLOW stays, and only lets evaluation go on to the parent scope.)
func (r *rule) requireParentalConsent(perms ScopePermissions) {
	if perms == ScopePermissionsRequireParentalConsent && r.effect == EffectAllow && r.cond != nil {
		r.effect, r.negate = EffectDeny, true
	}
}
