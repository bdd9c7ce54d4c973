package policies

import (
	"sort"
	"time"

	"github.com/google/cel-go/common/types"
)

// Check decides every input. now() is read once and shared by all inputs, as Cerbos does
// within one API call. It is safe to call concurrently.
func (s *Set) Check(inputs []Input) []Output {
	now := s.now()
	outs := make([]Output, len(inputs))
	for i := range inputs {
		s.CheckOne(&inputs[i], now, &outs[i])
	}
	return outs
}

func (s *Set) now() time.Time {
	if s.cfg.Now != nil {
		return s.cfg.Now()
	}
	return time.Now()
}

// Now reads the set's clock; callers pass it to CheckOne so a batch shares one instant.
func (s *Set) Now() time.Time { return s.now() }

// CheckOne decides one input at the instant now and writes the answer into out, reusing
// out's slices. An input that fails Input.Validate is denied with policy NO_MATCH.
func (s *Set) CheckOne(in *Input, now time.Time, out *Output) {
	s.checkOne(in, now, out)
}

// checkOne is CheckOne, reporting whether an expression read the clock.
func (s *Set) checkOne(in *Input, now time.Time, out *Output) (clockRead bool) {
	*out = Output{
		RequestID:             in.RequestID,
		ResourceID:            in.Resource.ID,
		Actions:               out.Actions[:0],
		EffectiveDerivedRoles: out.EffectiveDerivedRoles[:0],
		ValidationErrors:      out.ValidationErrors[:0],
		Outputs:               out.Outputs[:0],
		EvaluationErrors:      out.EvaluationErrors[:0],
	}
	if err := in.Validate(); err != nil {
		for _, a := range in.Actions {
			out.Actions = append(out.Actions, ActionResult{Action: a, Effect: EffectDeny, Policy: NoMatch})
		}
		return false
	}
	rs := newRequestState(s, in, now)
	defer rs.release()
	d := s.newDecider(rs)
	if d.schemaCheck(out) {
		d.decideAll(out)
	}
	out.Outputs = append(out.Outputs, rs.outputs...)
	out.EvaluationErrors = sortedErrors(append(out.EvaluationErrors, rs.evalErrors...))
	out.EffectiveDerivedRoles = append(out.EffectiveDerivedRoles, rs.effective...)
	sort.Strings(out.EffectiveDerivedRoles)
	return rs.nowVal != nil
}

// decider holds what is fixed for one input: versions, scope chains and role sets.
type decider struct {
	s           *Set
	rs          *requestState
	kind        string // sanitised resource kind
	principalID string // sanitised principal id
	pv, rv      string
	rscope      string
	pchain      []string
	rchain      []string
	resourceKey string // reported for resource-family decisions
	// principalExists is true when some principal policy of the principal's policy version
	// (for any principal) exists in the principal scope chain, as Cerbos tests it.
	principalExists bool
}

func trimScope(s string) string {
	if len(s) > 0 && s[0] == '.' {
		return s[1:]
	}
	return s
}

func (s *Set) requestScope(scope string) string {
	if scope == "" {
		return s.cfg.DefaultScope
	}
	return trimScope(scope)
}

func (s *Set) newDecider(rs *requestState) *decider {
	in := rs.in
	d := &rs.d
	*d = decider{
		s:           s,
		rs:          rs,
		kind:        sanitizeName(in.Resource.Kind),
		principalID: sanitizeName(in.Principal.ID),
		pv:          orDefault(in.Principal.PolicyVersion, s.cfg.defaultVersion()),
		rv:          orDefault(in.Resource.PolicyVersion, s.cfg.defaultVersion()),
		rscope:      s.requestScope(in.Resource.Scope),
	}
	d.pchain = s.scopeChain(s.principalChains, s.requestScope(in.Principal.Scope), nil)
	d.rchain = s.scopeChain(s.resourceChains, d.rscope, &rs.chainBuf)
	// Resolve the policies of the chains once per input: they are the same for every
	// action and role.
	for _, scope := range d.rchain {
		rs.rpols = append(rs.rpols, s.resources[policyID{d.kind, d.rv, scope}])
		rs.rroles = append(rs.rroles, s.roleScopes[scope])
	}
	for _, scope := range d.pchain {
		rs.ppols = append(rs.ppols, s.principals[policyID{d.principalID, d.rv, scope}])
	}
	for _, scope := range d.pchain {
		if s.principalVersions[scopeVersion{scope, d.pv}] {
			d.principalExists = true
			break
		}
	}
	d.expandRoles()
	d.resourceKey = NoMatch
	if d.anyResourcePolicy() {
		if rp := rs.rpols[0]; rp != nil {
			d.resourceKey = rp.key
		} else {
			d.resourceKey = resourceKey(in.Resource.Kind, d.rv, d.rchain[0])
		}
	}
	return d
}

// principalKey is the key reported for principal-policy decisions: built from the
// principal's id and policy version and the most specific scope of the chain when principal
// policies of that version exist in the chain, NO_MATCH otherwise (the rules themselves are
// selected by the resource's version, as Cerbos does).
func (d *decider) principalKey() string {
	if !d.principalExists {
		return NoMatch
	}
	if pp := d.s.principals[policyID{d.principalID, d.pv, d.pchain[0]}]; pp != nil {
		return pp.key
	}
	return principalKey(d.rs.in.Principal.ID, d.pv, d.pchain[0])
}

// anyResourcePolicy reports whether some scope of the resource chain has a resource policy
// for the kind and version, or a role policy of that version (of any role) with a rule for
// the kind. Only then
// is a default deny attributed to the resource policy key rather than NO_MATCH.
func (d *decider) anyResourcePolicy() bool {
	for i, scope := range d.rchain {
		if d.rs.rpols[i] != nil {
			return true
		}
		if !d.rs.rroles[i] {
			continue
		}
		for _, rp := range d.s.rolesByScope[scopeVersion{scope, d.rv}] {
			if rp.coversKind(d.kind) {
				return true
			}
		}
	}
	return false
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// scopeChain lists the scopes to search, most specific first. With strict scope search the
// requested scope itself must hold a policy of the family, or the family is skipped. Chains
// of scopes that hold policies are computed at load time; others (lenient search) are built
// into buf.
func (s *Set) scopeChain(chains map[string][]string, scope string, buf *[]string) []string {
	if chain, ok := chains[scope]; ok {
		return chain
	}
	if !s.cfg.LenientScopeSearch {
		return nil
	}
	var chain []string
	if buf != nil {
		chain = (*buf)[:0]
	}
	for _, anc := range parentScopes(scope) {
		if parent, ok := chains[anc]; ok {
			chain = append(chain, parent...)
			break
		}
	}
	if buf != nil {
		*buf = chain
	}
	return chain
}

// expandRoles computes, for each principal role, the role and its role-policy parents
// (recursively, among role policies of the request's resource scope, whatever their
// version, as Cerbos resolves them), and the union of all
// of them, which derived roles are activated against.
func (d *decider) expandRoles() {
	rs := d.rs
	ends := rs.roleEnds[:0]
	for _, role := range rs.in.Principal.Roles {
		start := len(rs.roleBuf)
		rs.roleBuf = append(rs.roleBuf, role)
		for i := start; i < len(rs.roleBuf); i++ {
			for _, parent := range d.s.parentRoles[roleScope{rs.roleBuf[i], d.rscope}] {
				if !containsString(rs.roleBuf[start:], parent) {
					rs.roleBuf = append(rs.roleBuf, parent)
				}
			}
		}
		ends = append(ends, len(rs.roleBuf))
	}
	rs.roleEnds = ends
	start := 0
	for _, end := range ends {
		set := rs.roleBuf[start:end:end]
		rs.roleSets = append(rs.roleSets, set)
		for _, r := range set {
			if !containsString(rs.activationRoles, r) {
				rs.activationRoles = append(rs.activationRoles, r)
			}
		}
		start = end
	}
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func (d *decider) decideAll(out *Output) {
	for _, action := range d.rs.in.Actions {
		out.Actions = append(out.Actions, d.decide(action))
	}
}

// decide applies principal policies first (their ALLOW or DENY is final), then resource
// and role policies role by role, where the first role that ends in ALLOW wins.
func (d *decider) decide(action string) ActionResult {
	// Cerbos evaluates nothing unless principal policies of the principal's version or a
	// resource (or role) policy of the resource's kind and version exist for the request.
	if !d.principalExists && d.resourceKey == NoMatch {
		return ActionResult{Action: action, Effect: EffectDeny, Policy: NoMatch}
	}
	if len(d.pchain) > 0 {
		if eff, scope, rule := d.principalDecision(action); eff != EffectNoMatch {
			return ActionResult{Action: action, Effect: eff, Policy: d.principalKey(), Scope: scope, Rule: rule}
		}
	}
	if len(d.rchain) == 0 {
		return ActionResult{Action: action, Effect: EffectDeny, Policy: NoMatch}
	}
	result := ActionResult{Action: action, Effect: EffectNoMatch}
	for _, roleSet := range d.rs.roleSets {
		eff, policy, scope, rule := d.resourceDecision(action, roleSet)
		if eff == EffectNoMatch {
			continue
		}
		if result.Effect == EffectNoMatch || eff == EffectAllow {
			result.Effect, result.Policy, result.Scope, result.Rule = eff, policy, scope, rule
		}
		if eff == EffectAllow {
			break
		}
	}
	if result.Effect == EffectNoMatch {
		result.Effect, result.Policy, result.Scope = EffectDeny, d.resourceKey, ""
	}
	return result
}

// principalDecision walks the principal scope chain. Rules are selected by the resource's
// policy version, as Cerbos does. rule names the rule that decided.
func (d *decider) principalDecision(action string) (eff Effect, scope, rule string) {
	for i, scope := range d.pchain {
		pp := d.rs.ppols[i]
		if pp == nil {
			continue
		}
		allowedBy := ""
		for _, r := range pp.rules {
			if !r.resources.match(d.kind) || !r.actions.match(action) {
				continue
			}
			holds, failed := d.evalRule(r, action, d.rs.frame(r.env, nil))
			if failed || (holds && r.effect == EffectDeny) {
				return EffectDeny, scope, r.name
			}
			if holds && allowedBy == "" {
				allowedBy = r.name
			}
		}
		if allowedBy != "" && pp.perms != ScopePermissionsRequireParentalConsent {
			return EffectAllow, scope, allowedBy
		}
	}
	return EffectNoMatch, "", ""
}

// resourceDecision walks the resource scope chain for one principal role (with its parent
// roles): role-policy restrictions first, then the resource policy's rules. rule names
// the resource rule that decided ("" for a role policy's restriction).
func (d *decider) resourceDecision(action string, roleSet []string) (eff Effect, policy, scope, rule string) {
	for i, scope := range d.rchain {
		rp, hasRoles := d.rs.rpols[i], d.rs.rroles[i]
		if rp != nil {
			d.visit(rp)
		}
		// A scope counts for this role only if some rule there concerns the role set:
		// a resource-policy rule for one of its roles (any action) or a role-policy rule
		// for the kind. Otherwise role policies there do not restrict it either.
		if !d.scopeConcernsRoles(rp, scope, hasRoles, roleSet) {
			continue
		}
		for _, role := range roleSet {
			if !hasRoles {
				break
			}
			if rolePol := d.s.roles[policyID{role, d.rv, scope}]; rolePol != nil && d.roleDenies(rolePol, action) {
				return EffectDeny, rolePol.key, scope, ""
			}
		}
		if rp == nil {
			continue
		}
		allowedBy := ""
		for _, r := range rp.rules {
			if !r.actions.match(action) {
				continue
			}
			applies, failed := d.ruleApplies(r, rp, roleSet)
			if failed {
				return EffectDeny, d.resourceKey, scope, r.name
			}
			if !applies {
				continue
			}
			holds, failed := d.evalRule(r, action, d.rs.frame(r.env, rp))
			if failed || (holds && r.effect == EffectDeny) {
				return EffectDeny, d.resourceKey, scope, r.name
			}
			if holds && allowedBy == "" {
				allowedBy = r.name
			}
		}
		if allowedBy != "" && rp.perms != ScopePermissionsRequireParentalConsent {
			return EffectAllow, d.resourceKey, scope, allowedBy
		}
	}
	return EffectNoMatch, "", "", ""
}

// scopeConcernsRoles reports whether the resource policy rp at scope (nil if none) has a
// rule for one of roleSet (by role or by a derived role's parent roles), or a role policy
// of one of roleSet at scope has a rule for the resource kind.
func (d *decider) scopeConcernsRoles(rp *resourcePolicy, scope string, hasRoles bool, roleSet []string) bool {
	if rp != nil {
		for _, r := range rp.rules {
			if r.roles != nil && r.roles.matchAny(roleSet) {
				return true
			}
			for _, dr := range r.derived {
				if dr.parents.matchAny(roleSet) {
					return true
				}
			}
		}
	}
	if !hasRoles {
		return false
	}
	for _, role := range roleSet {
		if rolePol := d.s.roles[policyID{role, d.rv, scope}]; rolePol != nil && rolePol.coversKind(d.kind) {
			return true
		}
	}
	return false
}

// ruleApplies reports whether a resource rule applies to a role set: by static role, or by
// a derived role that is active and whose parent roles include one of the set. failed is
// true when, under strict evaluation, a derived role it depends on failed to evaluate.
func (d *decider) ruleApplies(r *rule, rp *resourcePolicy, roleSet []string) (applies, failed bool) {
	if r.roles != nil && r.roles.matchAny(roleSet) {
		return true, false
	}
	for _, dr := range r.derived {
		if !dr.parents.matchAny(roleSet) {
			continue
		}
		st := d.derivedStatus(dr)
		if st == derivedActive && dr.usesRuntime {
			// As in Cerbos, a derived role's condition is checked again when a rule uses it,
			// now with runtime.effectiveDerivedRoles of the policy being evaluated.
			holds, f := d.evalCond(dr.cond, d.rs.frame(dr.env, rp))
			switch {
			case f:
				st = derivedError
			case !holds:
				st = derivedInactive
			}
		}
		switch st {
		case derivedActive:
			return true, false
		case derivedError:
			if d.rs.strict {
				return false, true
			}
		}
	}
	return false, false
}

// roleDenies applies a role policy as an allow-list for the action on this resource kind.
func (d *decider) roleDenies(rp *rolePolicy, action string) bool {
	kindMatched, actionMatched := false, false
	for _, rr := range rp.rules {
		if !rr.resources.match(d.kind) {
			continue
		}
		kindMatched = true
		if !rr.actions.match(action) {
			continue
		}
		actionMatched = true
		holds := true
		if rr.cond != nil {
			var failed bool
			holds, failed = d.evalCond(rr.cond, d.rs.frame(rr.env, nil))
			if failed {
				return true
			}
		}
		d.emitOutput(rr.src, action, rr.output, holds, d.rs.frame(rr.env, nil))
		if !holds {
			return true
		}
	}
	return !kindMatched || !actionMatched
}

// visit records that evaluation reached a resource policy's scope: its referenced derived
// roles are evaluated (once per request) and the active ones become effective.
func (d *decider) visit(rp *resourcePolicy) {
	for _, dr := range rp.derived {
		if d.derivedStatus(dr) == derivedActive {
			d.rs.addEffective(dr.name)
		}
	}
}

func (d *decider) derivedStatus(dr *derivedRole) derivedStatus {
	if st := d.rs.derivedStatusOf(dr.id); st != derivedUnknown {
		return st
	}
	st := derivedInactive
	if dr.parents.matchAny(d.rs.activationRoles) {
		holds, failed := true, false
		if dr.cond != nil {
			holds, failed = d.evalCond(dr.cond, d.rs.frame(dr.env, nil))
		}
		switch {
		case failed:
			st = derivedError
		case holds:
			st = derivedActive
		}
	}
	d.rs.derived = append(d.rs.derived, derivedEntry{dr.id, st})
	return st
}

// evalRule evaluates a rule's condition (negated for parental-consent rules) and emits its
// output. failed is true when strict evaluation turns an error into a denial.
func (d *decider) evalRule(r *rule, action string, act *activation) (holds, failed bool) {
	holds = true
	if r.cond != nil {
		holds, failed = d.evalCond(r.cond, act)
		if failed {
			return false, true
		}
		if r.negate {
			holds = !holds
		}
	}
	d.emitOutput(r.src, action, r.output, holds, act)
	return holds, false
}

// evalCond evaluates a condition tree. A leaf that errors counts as false; under strict
// evaluation the error fails the whole condition instead (failed = true).
func (d *decider) evalCond(n *condNode, act *activation) (holds, failed bool) {
	switch n.op {
	case condExpr:
		v := d.rs.evalProgram(n.prog, act)
		if types.IsError(v) {
			return false, d.rs.strict
		}
		b, ok := v.(types.Bool)
		return ok && bool(b), false
	case condAll:
		for _, c := range n.nodes {
			if h, f := d.evalCond(c, act); f || !h {
				return false, f
			}
		}
		return true, false
	case condAny:
		for _, c := range n.nodes {
			if h, f := d.evalCond(c, act); f || h {
				return h && !f, f
			}
		}
		return false, false
	default: // condNone
		for _, c := range n.nodes {
			if h, f := d.evalCond(c, act); f || h {
				return false, f
			}
		}
		return true, false
	}
}

func (d *decider) emitOutput(src, action string, o *outputExprs, holds bool, act *activation) {
	if o == nil {
		return
	}
	p := o.notMet
	if holds {
		p = o.activated
	}
	if p == nil {
		return
	}
	entry := OutputEntry{Src: src, Action: action}
	v, _, err := p.prg.Eval(act)
	if err == nil {
		entry.Val, err = outputValue(v)
	}
	if err != nil {
		entry.Error = err.Error()
		d.rs.recordError(p.src, err)
	}
	d.rs.outputs = append(d.rs.outputs, entry)
}
