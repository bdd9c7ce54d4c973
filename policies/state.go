package policies

import (
	"errors"
	"reflect"
	"sort"
	"time"

	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/interpreter"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/gatehouse/gatehouse/policies/internal/cellib"
)

// Per-request values behind the CEL objects request, P, R and request.auxData.
type principalState struct {
	id, roles, attr, policyVersion, scope ref.Val
}

type resourceState struct {
	kind, id, attr, policyVersion, scope ref.Val
}

type auxState struct {
	jwt, jwts ref.Val
}

// derivedStatus caches a derived role's activation for one request.
type derivedStatus uint8

const (
	derivedUnknown derivedStatus = iota
	derivedActive
	derivedInactive
	derivedError
)

// requestState is everything one Input's evaluation needs. It is used by one goroutine.
type requestState struct {
	set    *Set
	in     *Input
	strict bool
	now    time.Time
	nowVal ref.Val

	requestObj, principalObj, resourceObj, auxObj objectValue
	principalVal, resourceVal, auxVal             ref.Val
	principal                                     principalState
	resource                                      resourceState
	aux                                           auxState
	emptyRuntime                                  *runtimeState

	frames  []*activation
	derived map[int]derivedStatus
	// activationRoles are the principal's roles plus their role-policy parents.
	activationRoles []string

	effectiveDerived map[string]bool
	outputs          []OutputEntry
	evalErrors       []EvaluationError
}

func newRequestState(s *Set, in *Input, now time.Time) *requestState {
	rs := &requestState{set: s, in: in, strict: !s.cfg.LenientEvaluation, now: now}
	p, r := &in.Principal, &in.Resource
	rs.principal = principalState{
		id:            types.String(p.ID),
		roles:         types.NewStringList(types.DefaultTypeAdapter, p.Roles),
		attr:          attrValue(p.Attr),
		policyVersion: types.String(p.PolicyVersion),
		scope:         types.String(trimScope(p.Scope)),
	}
	rs.resource = resourceState{
		kind:          types.String(r.Kind),
		id:            types.String(r.ID),
		attr:          attrValue(r.Attr),
		policyVersion: types.String(r.PolicyVersion),
		scope:         types.String(trimScope(r.Scope)),
	}
	rs.aux = auxState{jwt: attrValue(in.AuxData.JWT), jwts: jwtsValue(in.AuxData.JWTs)}
	rs.requestObj = objectValue{typ: requestType, obj: rs}
	rs.principalObj = objectValue{typ: principalType, obj: &rs.principal}
	rs.resourceObj = objectValue{typ: resourceType, obj: &rs.resource}
	rs.auxObj = objectValue{typ: auxDataType, obj: &rs.aux}
	rs.principalVal, rs.resourceVal, rs.auxVal = &rs.principalObj, &rs.resourceObj, &rs.auxObj
	rs.emptyRuntime = &runtimeState{}
	return rs
}

func attrValue(m map[string]any) ref.Val {
	if m == nil {
		return types.NewStringInterfaceMap(types.DefaultTypeAdapter, map[string]any{})
	}
	return types.NewStringInterfaceMap(types.DefaultTypeAdapter, m)
}

func jwtsValue(m map[string]map[string]any) ref.Val {
	out := make(map[string]any, len(m))
	for name, claims := range m {
		out[name] = map[string]any{"claims": claims}
	}
	return types.NewStringInterfaceMap(types.DefaultTypeAdapter, out)
}

// nowValue is now() for this request: read once, the same for every expression.
func (rs *requestState) nowValue() ref.Val {
	if rs.nowVal == nil {
		rs.nowVal = types.Timestamp{Time: rs.now}
	}
	return rs.nowVal
}

// frame returns the activation for an expression environment, creating it on first use.
func (rs *requestState) frame(env *exprEnv, rt *runtimeState) *activation {
	for _, f := range rs.frames {
		if f.env == env {
			return f
		}
	}
	if rt == nil {
		rt = rs.emptyRuntime
	}
	f := &activation{rs: rs, env: env, vals: make([]ref.Val, len(env.vars)), runtime: rt}
	f.varsObj = objectValue{typ: variablesType, obj: f}
	f.runtimeObj = objectValue{typ: runtimeType, obj: rt}
	rs.frames = append(rs.frames, f)
	return f
}

func (rs *requestState) recordError(expr string, err error) {
	rs.evalErrors = append(rs.evalErrors, EvaluationError{Expression: expr, Message: err.Error()})
}

// activation resolves the identifiers of one policy's expressions for one request.
type activation struct {
	rs         *requestState
	env        *exprEnv
	vals       []ref.Val // variable values; nil = not evaluated yet
	evaluating []bool
	runtime    *runtimeState
	varsObj    objectValue
	runtimeObj objectValue
}

// ResolveName implements interpreter.Activation.
func (a *activation) ResolveName(name string) (any, bool) {
	switch name {
	case "request":
		return &a.rs.requestObj, true
	case "P":
		return a.rs.principalVal, true
	case "R":
		return a.rs.resourceVal, true
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
	if a.evaluating == nil {
		a.evaluating = make([]bool, len(a.vals))
	}
	if a.evaluating[i] {
		return types.WrapErr(errVariableCycle), true
	}
	a.evaluating[i] = true
	defer func() { a.evaluating[i] = false }()
	v := a.rs.evalProgram(a.env.vars[i].prog, a)
	a.vals[i] = v
	return v, true
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

// runtimeState is runtime.effectiveDerivedRoles for one resource policy.
type runtimeState struct {
	roles ref.Val
	names []string
}

func (r *runtimeState) effectiveDerivedRoles() ref.Val {
	if r.roles == nil {
		r.roles = types.NewStringList(types.DefaultTypeAdapter, r.names)
	}
	return r.roles
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

// sortedErrors returns the evaluation errors sorted and de-duplicated.
func sortedErrors(errs []EvaluationError) []EvaluationError {
	if len(errs) == 0 {
		return nil
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
