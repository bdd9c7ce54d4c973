package mapping

import (
	"fmt"
	"reflect"
	"sync"

	"github.com/google/cel-go/cel"
	celast "github.com/google/cel-go/common/ast"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/ext"
	"github.com/google/cel-go/interpreter"
	"google.golang.org/protobuf/types/known/structpb"
)

// The typed request view that mapping expressions see.
const (
	typeRequest = "gatehouse.Request"
	typePeer    = "gatehouse.Peer"
	typeSPIFFE  = "gatehouse.SPIFFE"
)

var (
	requestType   = types.NewObjectType(typeRequest)
	peerType      = types.NewObjectType(typePeer)
	spiffeType    = types.NewObjectType(typeSPIFFE)
	stringMapType = types.NewMapType(types.StringType, types.StringType)
	dynMapType    = types.NewMapType(types.StringType, types.DynType)
)

// objectFields lists the fields of each view type.
var objectFields = map[string]map[string]*types.Type{
	typeRequest: {
		"method": types.StringType, "path": types.StringType, "rawPath": types.StringType,
		"query": stringMapType, "headers": stringMapType, "host": types.StringType,
		"scheme": types.StringType, "protocol": types.StringType, "id": types.StringType,
		"body": types.DynType,
	},
	typePeer: {
		"address": types.StringType, "principal": types.StringType, "spiffe": spiffeType,
	},
	typeSPIFFE: {
		"id": types.StringType, "trustDomain": types.StringType, "path": types.StringType,
		"namespace": types.StringType, "serviceAccount": types.StringType,
	},
}

// viewObject is the Go value behind a view type.
type viewObject interface {
	field(name string) ref.Val
	has(name string) bool
}

type objectValue struct {
	typ *types.Type
	obj viewObject
}

func (o *objectValue) ConvertToNative(t reflect.Type) (any, error) {
	return nil, fmt.Errorf("type conversion error from '%s' to '%v'", o.typ.TypeName(), t)
}
func (o *objectValue) ConvertToType(t ref.Type) ref.Val {
	if t == types.TypeType {
		return o.typ
	}
	return types.NewErr("type conversion error from '%s' to '%s'", o.typ.TypeName(), t.TypeName())
}
func (o *objectValue) Equal(other ref.Val) ref.Val {
	x, ok := other.(*objectValue)
	return types.Bool(ok && x.obj == o.obj)
}
func (o *objectValue) Type() ref.Type { return o.typ }
func (o *objectValue) Value() any     { return o.obj }

type viewProvider struct {
	*types.Registry
}

func (p *viewProvider) FindStructType(name string) (*types.Type, bool) {
	if _, ok := objectFields[name]; ok {
		return types.NewTypeTypeWithParam(types.NewObjectType(name)), true
	}
	return p.Registry.FindStructType(name)
}

func (p *viewProvider) FindStructFieldNames(name string) ([]string, bool) {
	fields, ok := objectFields[name]
	if !ok {
		return p.Registry.FindStructFieldNames(name)
	}
	names := make([]string, 0, len(fields))
	for n := range fields {
		names = append(names, n)
	}
	return names, true
}

func (p *viewProvider) FindStructFieldType(name, field string) (*types.FieldType, bool) {
	fields, ok := objectFields[name]
	if !ok {
		return p.Registry.FindStructFieldType(name, field)
	}
	t, ok := fields[field]
	if !ok {
		return nil, false
	}
	return &types.FieldType{
		Type:    t,
		IsSet:   func(o any) bool { return o.(viewObject).has(field) },
		GetFrom: func(o any) (any, error) { return o.(viewObject).field(field), nil },
	}, true
}

var (
	envOnce sync.Once
	env     *cel.Env
	envErr  error
)

// celEnv is the environment of mapping expressions: request, params, context, metadata,
// source, destination, and for principal expressions claims and spiffe.
func celEnv() (*cel.Env, error) {
	envOnce.Do(func() {
		provider := &viewProvider{Registry: types.NewEmptyRegistry()}
		env, envErr = cel.NewEnv(
			cel.CustomTypeAdapter(provider),
			cel.CustomTypeProvider(provider),
			cel.CrossTypeNumericComparisons(true),
			cel.OptionalTypes(),
			cel.DefaultUTCTimeZone(true),
			cel.ParserExpressionSizeLimit(8<<10),
			ext.Strings(),
			ext.Lists(),
			ext.Sets(),
			ext.Encoders(),
			ext.Regex(),
			ext.Bindings(),
			cel.Variable("request", requestType),
			cel.Variable("params", stringMapType),
			cel.Variable("context", stringMapType),
			cel.Variable("metadata", dynMapType),
			cel.Variable("source", peerType),
			cel.Variable("destination", peerType),
			cel.Variable("claims", dynMapType),
			cel.Variable("spiffe", spiffeType),
		)
	})
	return env, envErr
}

// expr is a compiled mapping expression.
type expr struct {
	src string
	prg cel.Program
	// field is set for the common form "var.name" or `var["name"]` over a map variable,
	// which is read directly instead of through CEL.
	field *directField
	// constant is set when the expression is a literal (`"drafts"`, `true`): its JSON value.
	constant    any
	hasConstant bool
}

type directField struct {
	variable, name string
}

// compileExpr compiles src and checks that its type is one of want (dyn always passes).
func compileExpr(src string, want ...*types.Type) (*expr, error) {
	e, err := celEnv()
	if err != nil {
		return nil, err
	}
	ast, iss := e.Compile(src)
	if iss != nil && iss.Err() != nil {
		return nil, fmt.Errorf("invalid expression %q: %v", src, iss.Err())
	}
	if len(want) > 0 && !typeAllowed(ast.OutputType(), want) {
		return nil, fmt.Errorf("expression %q has type %s, want %s", src, ast.OutputType(), typeNames(want))
	}
	opts := []cel.ProgramOption{cel.EvalOptions(cel.OptOptimize)}
	if needsCostLimit(ast.NativeRep()) {
		opts = append(opts, cel.CostLimit(100_000))
	}
	prg, err := e.Program(ast, opts...)
	if err != nil {
		return nil, fmt.Errorf("expression %q: %v", src, err)
	}
	x := &expr{src: src, prg: prg, field: directFieldOf(ast)}
	if lit := ast.NativeRep().Expr(); lit.Kind() == celast.LiteralKind {
		if v, err := jsonValue(lit.AsLiteral()); err == nil {
			x.constant, x.hasConstant = v, true
		}
	}
	return x, nil
}

func typeAllowed(t *types.Type, want []*types.Type) bool {
	if t == types.DynType || t.Kind() == types.DynKind {
		return true
	}
	for _, w := range want {
		if t.IsAssignableType(w) {
			return true
		}
	}
	return false
}

func typeNames(ts []*types.Type) string {
	s := ""
	for i, t := range ts {
		if i > 0 {
			s += " or "
		}
		s += t.String()
	}
	return s
}

// needsCostLimit reports whether an expression can cost more than linear time in the
// request: comprehensions. Those run with a cost limit; others without the tracker.
func needsCostLimit(a *celast.AST) bool {
	found := false
	celast.PreOrderVisit(a.Expr(), celast.NewExprVisitor(func(e celast.Expr) {
		found = found || e.Kind() == celast.ComprehensionKind
	}))
	return found
}

// evalGo evaluates the expression into a JSON-like Go value (string, float64, bool, nil,
// []any, map[string]any). Literals and direct field reads skip CEL and boxing.
func (x *expr) evalGo(act *activation) (any, error) {
	if x.hasConstant {
		return x.constant, nil
	}
	if x.field != nil {
		if v, ok := act.directGo(x.field); ok {
			return v, nil
		}
	}
	v, err := x.eval(act)
	if err != nil {
		return nil, err
	}
	return jsonValue(v)
}

// evalString evaluates an expression that must give a string.
func (x *expr) evalString(act *activation, what string) (string, error) {
	if x.field != nil {
		if s, ok := act.directString(x.field); ok {
			return s, nil
		}
	}
	v, err := x.evalGo(act)
	if err != nil {
		return "", fmt.Errorf("%s: %w", what, err)
	}
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("%s: got %T, want a string", what, v)
	}
	return s, nil
}

// eval evaluates the expression for one request.
func (x *expr) eval(act *activation) (ref.Val, error) {
	if x.field != nil {
		if v, ok := act.directLookup(x.field); ok {
			return v, nil
		}
	}
	v, _, err := x.prg.Eval(act)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", x.src, err)
	}
	return v, nil
}

var _ interpreter.Activation = (*activation)(nil)

// toJSON converts a protobuf Struct into JSON-like Go values for CEL.
func structToMap(s *structpb.Struct) map[string]any {
	if s == nil {
		return map[string]any{}
	}
	return s.AsMap()
}
