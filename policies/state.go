package policies

import (
	"errors"
	"reflect"
	"sort"
	"sync"
	"time"

	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/interpreter"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/gatehouse/gatehouse/policies/internal/cellib"
)

// The per-request values behind the CEL objects request, P, R and request.auxData. Each
// CEL value is built on first use, so a decision pays only for what its conditions read.
type principalState struct {
	rs                              *requestState
	id, roles, policyVersion, scope ref.Val
	attr                            attrMap
	attrSet                         bool
}

func (p *principalState) idVal() ref.Val {
	return lazyString(&p.id, p.rs.in.Principal.ID)
}

func (p *principalState) rolesVal() ref.Val {
	if p.roles == nil {
		p.roles = types.NewStringList(types.DefaultTypeAdapter, p.rs.in.Principal.Roles)
	}
	return p.roles
}

func (p *principalState) attrVal() ref.Val {
	if !p.attrSet {
		p.attr.reset(p.rs.in.Principal.Attr)
		p.attrSet = true
	}
	return &p.attr
}

func (p *principalState) versionVal() ref.Val {
	return lazyString(&p.policyVersion, p.rs.in.Principal.PolicyVersion)
}

func (p *principalState) scopeVal() ref.Val {
	return lazyString(&p.scope, trimScope(p.rs.in.Principal.Scope))
}

type resourceState struct {
	rs                             *requestState
	kind, id, policyVersion, scope ref.Val
	attr                           attrMap
	attrSet                        bool
}

func (r *resourceState) kindVal() ref.Val { return lazyString(&r.kind, r.rs.in.Resource.Kind) }
func (r *resourceState) idVal() ref.Val   { return lazyString(&r.id, r.rs.in.Resource.ID) }
func (r *resourceState) attrVal() ref.Val {
	if !r.attrSet {
		r.attr.reset(r.rs.in.Resource.Attr)
		r.attrSet = true
	}
	return &r.attr
}

func (r *resourceState) versionVal() ref.Val {
	return lazyString(&r.policyVersion, r.rs.in.Resource.PolicyVersion)
}

func (r *resourceState) scopeVal() ref.Val {
	return lazyString(&r.scope, trimScope(r.rs.in.Resource.Scope))
}

type auxState struct {
	rs        *requestState
	jwt, jwts ref.Val
}

func (a *auxState) jwtVal() ref.Val { return lazyMap(&a.jwt, a.rs.in.AuxData.JWT) }

func (a *auxState) jwtsVal() ref.Val {
	if a.jwts == nil {
		m := make(map[string]any, len(a.rs.in.AuxData.JWTs))
		for name, claims := range a.rs.in.AuxData.JWTs {
			m[name] = map[string]any{"claims": claims}
		}
		a.jwts = types.NewStringInterfaceMap(types.DefaultTypeAdapter, m)
	}
	return a.jwts
}

var emptyMap = types.NewStringInterfaceMap(types.DefaultTypeAdapter, map[string]any{})

func lazyString(cache *ref.Val, s string) ref.Val {
	if *cache == nil {
		*cache = types.String(s)
	}
	return *cache
}

func lazyMap(cache *ref.Val, m map[string]any) ref.Val {
	if *cache == nil {
		if m == nil {
			*cache = emptyMap
		} else {
			*cache = types.NewStringInterfaceMap(types.DefaultTypeAdapter, m)
		}
	}
	return *cache
}

// derivedStatus caches a derived role's activation for one request.
type derivedStatus uint8

const (
	derivedUnknown derivedStatus = iota
	derivedActive
	derivedInactive
	derivedError
)

type derivedEntry struct {
	id int
	st derivedStatus
}

// requestState is everything one Input's evaluation needs. It is used by one goroutine at
// a time and recycled through a pool, so its slices keep their capacity between requests.
type requestState struct {
	set    *Set
	in     *Input
	strict bool
	now    time.Time
	nowVal ref.Val

	requestObj, principalObj, resourceObj, auxObj objectValue
	principal                                     principalState
	resource                                      resourceState
	aux                                           auxState

	frames  []*activation // activations in use by this request
	spare   []*activation // activations kept for reuse
	derived []derivedEntry
	// activationRoles are the principal's roles plus their role-policy parents.
	activationRoles []string
	roleBuf         []string
	roleEnds        []int
	roleSets        [][]string
	chainBuf        []string
	rpols           []*resourcePolicy  // resource policy of each scope of the resource chain
	rroles          []bool             // whether each scope of the resource chain has role policies
	ppols           []*principalPolicy // principal policy (by resource version) of each principal scope

	effective  []string // effective derived roles, unique
	outputs    []OutputEntry
	evalErrors []EvaluationError

	d decider
}

var statePool = sync.Pool{New: func() any {
	rs := &requestState{}
	rs.principal.rs, rs.resource.rs, rs.aux.rs = rs, rs, rs
	rs.requestObj = objectValue{typ: requestType, obj: rs}
	rs.principalObj = objectValue{typ: principalType, obj: &rs.principal}
	rs.resourceObj = objectValue{typ: resourceType, obj: &rs.resource}
	rs.auxObj = objectValue{typ: auxDataType, obj: &rs.aux}
	return rs
}}

func newRequestState(s *Set, in *Input, now time.Time) *requestState {
	rs := statePool.Get().(*requestState)
	rs.set, rs.in, rs.strict, rs.now = s, in, !s.cfg.LenientEvaluation, now
	return rs
}

// release clears the request's data and returns the state to the pool.
func (rs *requestState) release() {
	rs.set, rs.in, rs.nowVal = nil, nil, nil
	rs.principal = principalState{rs: rs}
	rs.resource = resourceState{rs: rs}
	rs.aux = auxState{rs: rs}
	for _, f := range rs.frames {
		f.reset()
		rs.spare = append(rs.spare, f)
	}
	clear(rs.frames)
	rs.frames = rs.frames[:0]
	rs.derived = rs.derived[:0]
	clear(rs.activationRoles)
	rs.activationRoles = rs.activationRoles[:0]
	clear(rs.roleBuf)
	rs.roleBuf = rs.roleBuf[:0]
	rs.roleEnds = rs.roleEnds[:0]
	clear(rs.roleSets)
	rs.roleSets = rs.roleSets[:0]
	rs.chainBuf = rs.chainBuf[:0]
	clear(rs.rpols)
	rs.rpols = rs.rpols[:0]
	rs.rroles = rs.rroles[:0]
	clear(rs.ppols)
	rs.ppols = rs.ppols[:0]
	rs.effective = rs.effective[:0]
	clear(rs.outputs)
	rs.outputs = rs.outputs[:0]
	clear(rs.evalErrors)
	rs.evalErrors = rs.evalErrors[:0]
	rs.d = decider{}
	statePool.Put(rs)
}

// nowValue is now() for this request: read once, the same for every expression.
func (rs *requestState) nowValue() ref.Val {
	if rs.nowVal == nil {
		rs.nowVal = types.Timestamp{Time: rs.now}
	}
	return rs.nowVal
}

// frame returns the activation for an expression environment, creating it on first use.
// rp is the resource policy whose scope runtime.effectiveDerivedRoles describes (nil
// outside resource policies).
func (rs *requestState) frame(env *exprEnv, rp *resourcePolicy) *activation {
	for _, f := range rs.frames {
		if f.env == env && f.rp == rp {
			return f
		}
	}
	var f *activation
	if n := len(rs.spare); n > 0 {
		f, rs.spare = rs.spare[n-1], rs.spare[:n-1]
	} else {
		f = &activation{}
		f.varsObj = objectValue{typ: variablesType, obj: f}
		f.runtimeObj = objectValue{typ: runtimeType, obj: f}
	}
	f.rs, f.env, f.rp = rs, env, rp
	for range env.vars {
		f.vals = append(f.vals, nil)
		f.evaluating = append(f.evaluating, false)
	}
	rs.frames = append(rs.frames, f)
	return f
}

func (rs *requestState) recordError(expr string, err error) {
	rs.evalErrors = append(rs.evalErrors, EvaluationError{Expression: expr, Message: err.Error()})
}

// derivedStatusOf returns the cached activation of a derived role.
func (rs *requestState) derivedStatusOf(id int) derivedStatus {
	for _, e := range rs.derived {
		if e.id == id {
			return e.st
		}
	}
	return derivedUnknown
}

// addEffective records an active derived role of a visited scope.
func (rs *requestState) addEffective(name string) {
	for _, n := range rs.effective {
		if n == name {
			return
		}
	}
	rs.effective = append(rs.effective, name)
}

// activation resolves the identifiers of one policy's expressions for one request.
type activation struct {
	rs         *requestState
	env        *exprEnv
	rp         *resourcePolicy
	vals       []ref.Val // variable values; nil = not evaluated yet
	evaluating []bool
	runtime    ref.Val
	varsObj    objectValue
	runtimeObj objectValue
}

func (a *activation) reset() {
	a.rs, a.env, a.rp, a.runtime = nil, nil, nil, nil
	clear(a.vals)
	a.vals = a.vals[:0]
	a.evaluating = a.evaluating[:0]
}

// ResolveName implements interpreter.Activation.
func (a *activation) ResolveName(name string) (any, bool) {
	switch name {
	case "request":
		return &a.rs.requestObj, true
	case "P":
		return &a.rs.principalObj, true
	case "R":
		return &a.rs.resourceObj, true
	case "V", "variables":
		return &a.varsObj, true
	case "C", "constants":
		return a.env.consts, true
	case "G", "globals":
		return a.rs.set.globals, true
	case "runtime":
		return &a.runtimeObj, true
	case cellib.NowIdent:
		return a.rs.nowValue(), true
	}
	return nil, false
}

// Parent implements interpreter.Activation.
func (a *activation) Parent() interpreter.Activation { return nil }

var errVariableCycle = errors.New("variable depends on itself")

// lookup evaluates a variable on first use; a failed variable stays failed for the request.
func (a *activation) lookup(name string) (ref.Val, bool) {
	i, ok := a.env.varIdx[name]
	if !ok {
		return nil, false
	}
	if v := a.vals[i]; v != nil {
		return v, true
	}
	if a.evaluating[i] {
		return types.WrapErr(errVariableCycle), true
	}
	a.evaluating[i] = true
	v := a.rs.evalProgram(a.env.vars[i].prog, a)
	a.evaluating[i] = false
	a.vals[i] = v
	return v, true
}

// effectiveDerivedRoles is runtime.effectiveDerivedRoles: the active derived roles of the
// resource policy being evaluated, sorted (empty outside resource policies).
func (a *activation) effectiveDerivedRoles() ref.Val {
	if a.runtime == nil {
		var names []string
		if a.rp != nil {
			for _, dr := range a.rp.derived {
				if a.rs.derivedStatusOf(dr.id) == derivedActive {
					names = append(names, dr.name)
				}
			}
			sort.Strings(names)
		}
		a.runtime = types.NewStringList(types.DefaultTypeAdapter, names)
	}
	return a.runtime
}

// evalProgram runs a program, recording a run-time error as an evaluation error.
func (rs *requestState) evalProgram(p *program, act *activation) ref.Val {
	if p == nil {
		return types.NewErr("expression failed to compile")
	}
	v, _, err := p.prg.Eval(act)
	if err != nil {
		rs.recordError(p.src, err)
		return types.WrapErr(err)
	}
	return v
}

var jsonValueType = reflect.TypeOf(&structpb.Value{})

// outputValue converts an output expression's result into a JSON value.
func outputValue(v ref.Val) (any, error) {
	native, err := v.ConvertToNative(jsonValueType)
	if err != nil {
		return nil, err
	}
	return native.(*structpb.Value).AsInterface(), nil
}

// sortedErrors sorts and de-duplicates evaluation errors in place.
func sortedErrors(errs []EvaluationError) []EvaluationError {
	if len(errs) == 0 {
		return errs
	}
	sort.Slice(errs, func(i, j int) bool {
		if errs[i].Expression != errs[j].Expression {
			return errs[i].Expression < errs[j].Expression
		}
		return errs[i].Message < errs[j].Message
	})
	out := errs[:1]
	for _, e := range errs[1:] {
		if e != out[len(out)-1] {
			out = append(out, e)
		}
	}
	return out
}

func (rs *requestState) jsonValue() map[string]any {
	m := map[string]any{"principal": rs.principal.jsonValue(), "resource": rs.resource.jsonValue()}
	if aux := rs.aux.jsonValue(); len(aux) > 0 {
		m["auxData"] = aux
	}
	return m
}

func (p *principalState) jsonValue() map[string]any {
	in := &p.rs.in.Principal
	m := map[string]any{}
	putNonEmpty(m, "id", in.ID)
	if len(in.Roles) > 0 {
		roles := make([]any, len(in.Roles))
		for i, r := range in.Roles {
			roles[i] = r
		}
		m["roles"] = roles
	}
	if len(in.Attr) > 0 {
		m["attr"] = in.Attr
	}
	putNonEmpty(m, "policyVersion", in.PolicyVersion)
	putNonEmpty(m, "scope", trimScope(in.Scope))
	return m
}

func (r *resourceState) jsonValue() map[string]any {
	in := &r.rs.in.Resource
	m := map[string]any{}
	putNonEmpty(m, "kind", in.Kind)
	putNonEmpty(m, "id", in.ID)
	if len(in.Attr) > 0 {
		m["attr"] = in.Attr
	}
	putNonEmpty(m, "policyVersion", in.PolicyVersion)
	putNonEmpty(m, "scope", trimScope(in.Scope))
	return m
}

func (a *auxState) jsonValue() map[string]any {
	m := map[string]any{}
	if len(a.rs.in.AuxData.JWT) > 0 {
		m["jwt"] = a.rs.in.AuxData.JWT
	}
	if len(a.rs.in.AuxData.JWTs) > 0 {
		jwts := map[string]any{}
		for name, claims := range a.rs.in.AuxData.JWTs {
			jwts[name] = map[string]any{"claims": claims}
		}
		m["jwts"] = jwts
	}
	return m
}

func putNonEmpty(m map[string]any, key, val string) {
	if val != "" {
		m[key] = val
	}
}
