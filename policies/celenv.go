package policies

import (
	"fmt"
	"reflect"
	"sync"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/ext"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/gatehouse/gatehouse/policies/internal/cellib"
)

// CEL type names of the objects policies see. V, C and G are opaque objects that only
// support field selection, so V["x"] is a type error, as in Cerbos.
const (
	typeRequest   = "cerbos.engine.v1.Request"
	typePrincipal = "cerbos.engine.v1.Request.Principal"
	typeResource  = "cerbos.engine.v1.Request.Resource"
	typeAuxData   = "cerbos.engine.v1.AuxData"
	typeRuntime   = "cerbos.engine.v1.Runtime"
	typeVariables = "cerbos.Variables"
	typeConstants = "cerbos.Constants"
	typeGlobals   = "cerbos.Globals"
)

var (
	requestType   = types.NewObjectType(typeRequest)
	principalType = types.NewObjectType(typePrincipal)
	resourceType  = types.NewObjectType(typeResource)
	auxDataType   = types.NewObjectType(typeAuxData)
	runtimeType   = types.NewObjectType(typeRuntime)
	variablesType = types.NewObjectType(typeVariables)
	constantsType = types.NewObjectType(typeConstants)
	globalsType   = types.NewObjectType(typeGlobals)

	attrMapType = types.NewMapType(types.StringType, types.DynType)
)

// structField describes one field of the request objects: its CEL type and how to read it
// from the Go value behind the object.
type structField struct {
	typ *types.Type
	get func(obj any) ref.Val
}

// structFields lists the fields of each object type, under both JSON and proto names.
var structFields = map[string]map[string]structField{
	typeRequest: withProtoNames(map[string]structField{
		"principal": {principalType, func(o any) ref.Val { return &o.(*requestState).principalObj }},
		"resource":  {resourceType, func(o any) ref.Val { return &o.(*requestState).resourceObj }},
		"auxData":   {auxDataType, func(o any) ref.Val { return &o.(*requestState).auxObj }},
	}),
	typePrincipal: withProtoNames(map[string]structField{
		"id":            {types.StringType, func(o any) ref.Val { return o.(*principalState).idVal() }},
		"roles":         {types.NewListType(types.StringType), func(o any) ref.Val { return o.(*principalState).rolesVal() }},
		"attr":          {attrMapType, func(o any) ref.Val { return o.(*principalState).attrVal() }},
		"policyVersion": {types.StringType, func(o any) ref.Val { return o.(*principalState).versionVal() }},
		"scope":         {types.StringType, func(o any) ref.Val { return o.(*principalState).scopeVal() }},
	}),
	typeResource: withProtoNames(map[string]structField{
		"kind":          {types.StringType, func(o any) ref.Val { return o.(*resourceState).kindVal() }},
		"id":            {types.StringType, func(o any) ref.Val { return o.(*resourceState).idVal() }},
		"attr":          {attrMapType, func(o any) ref.Val { return o.(*resourceState).attrVal() }},
		"policyVersion": {types.StringType, func(o any) ref.Val { return o.(*resourceState).versionVal() }},
		"scope":         {types.StringType, func(o any) ref.Val { return o.(*resourceState).scopeVal() }},
	}),
	typeAuxData: {
		"jwt":  {attrMapType, func(o any) ref.Val { return o.(*auxState).jwtVal() }},
		"jwts": {attrMapType, func(o any) ref.Val { return o.(*auxState).jwtsVal() }},
	},
	typeRuntime: withProtoNames(map[string]structField{
		"effectiveDerivedRoles": {types.NewListType(types.StringType), func(o any) ref.Val { return o.(*activation).effectiveDerivedRoles() }},
	}),
}

// withProtoNames adds the snake_case spelling of every camelCase field.
func withProtoNames(m map[string]structField) map[string]structField {
	out := make(map[string]structField, 2*len(m))
	for name, f := range m {
		out[name] = f
		out[snakeName(name)] = f
	}
	return out
}

func snakeName(s string) string {
	var b []byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' {
			b = append(b, '_', c+'a'-'A')
			continue
		}
		b = append(b, c)
	}
	return string(b)
}

// objectProvider adds the request objects and the V/C/G namespaces to the standard registry.
type objectProvider struct {
	*types.Registry
	mu        sync.Mutex
	dynFields map[string]*types.FieldType // V, C and G fields, created on demand
}

func (p *objectProvider) FindStructType(name string) (*types.Type, bool) {
	switch name {
	case typeRequest, typePrincipal, typeResource, typeAuxData, typeRuntime, typeVariables, typeConstants, typeGlobals:
		return types.NewTypeTypeWithParam(types.NewObjectType(name)), true
	}
	return p.Registry.FindStructType(name)
}

func (p *objectProvider) FindStructFieldNames(name string) ([]string, bool) {
	if fields, ok := structFields[name]; ok {
		names := make([]string, 0, len(fields))
		for n := range fields {
			names = append(names, n)
		}
		return names, true
	}
	return p.Registry.FindStructFieldNames(name)
}

func (p *objectProvider) FindStructFieldType(name, field string) (*types.FieldType, bool) {
	if fields, ok := structFields[name]; ok {
		f, ok := fields[field]
		if !ok {
			return nil, false
		}
		return &types.FieldType{
			Type:    f.typ,
			IsSet:   func(o any) bool { return isSetValue(f.get(o)) },
			GetFrom: func(o any) (any, error) { return f.get(o), nil },
		}, true
	}
	switch name {
	case typeVariables, typeConstants, typeGlobals:
		return p.namespaceField(name, field), true
	}
	return p.Registry.FindStructFieldType(name, field)
}

// namespaceField returns the field type of V.x, C.x or G.x. Names are checked against the
// policy's definitions by the compiler, so any name is accepted here.
func (p *objectProvider) namespaceField(name, field string) *types.FieldType {
	key := name + "." + field
	p.mu.Lock()
	defer p.mu.Unlock()
	if ft, ok := p.dynFields[key]; ok {
		return ft
	}
	ft := &types.FieldType{
		Type: types.DynType,
		IsSet: func(o any) bool {
			_, ok := o.(namespace).lookup(field)
			return ok
		},
		GetFrom: func(o any) (any, error) {
			v, ok := o.(namespace).lookup(field)
			if !ok {
				return nil, fmt.Errorf("no such key: %s", field)
			}
			if types.IsError(v) {
				return nil, v.(*types.Err)
			}
			return v, nil
		},
	}
	p.dynFields[key] = ft
	return ft
}

// namespace is the Go value behind V, C and G.
type namespace interface {
	lookup(name string) (ref.Val, bool)
}

// isSetValue is has() on a request field: set when not the zero value, as for protobuf fields.
func isSetValue(v ref.Val) bool {
	switch x := v.(type) {
	case types.String:
		return x != ""
	case nil:
		return false
	}
	if v == types.NullValue {
		return false
	}
	if s, ok := v.(interface{ Size() ref.Val }); ok {
		return s.Size() != types.IntZero
	}
	return true
}

// objectValue wraps the Go value behind a request object so CEL can select its fields.
type objectValue struct {
	typ *types.Type
	obj any
}

func (o *objectValue) ConvertToNative(t reflect.Type) (any, error) {
	if j, ok := o.obj.(jsonObject); ok && t == jsonValueType {
		return structpb.NewValue(j.jsonValue())
	}
	return nil, fmt.Errorf("type conversion error from '%s' to '%v'", o.typ.TypeName(), t)
}

// jsonObject is a request object that outputs can render, as protobuf JSON renders the
// corresponding Cerbos message (empty fields omitted).
type jsonObject interface {
	jsonValue() map[string]any
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

// env is the one CEL environment every expression is compiled in.
type env struct {
	cel *cel.Env
}

var (
	sharedEnvOnce sync.Once
	sharedEnv     *env
	sharedEnvErr  error
)

// celEnv returns the shared environment (built once; cel.Env is safe for concurrent use).
func celEnv() (*env, error) {
	sharedEnvOnce.Do(func() { sharedEnv, sharedEnvErr = newEnv() })
	return sharedEnv, sharedEnvErr
}

func newEnv() (*env, error) {
	provider := &objectProvider{Registry: types.NewEmptyRegistry(), dynFields: map[string]*types.FieldType{}}
	opts := []cel.EnvOption{
		cel.CustomTypeAdapter(provider),
		cel.CustomTypeProvider(provider),
		cel.CrossTypeNumericComparisons(true),
		cel.OptionalTypes(),
		cel.DefaultUTCTimeZone(true),
		cel.ExpressionNodeLimit(maxExprNodes),
		cel.ParserExpressionSizeLimit(maxExprSize),
		cel.ASTValidators(cel.ValidateDurationLiterals(), cel.ValidateTimestampLiterals(), cel.ValidateRegexLiterals()),
		ext.Bindings(),
		ext.Encoders(),
		ext.Lists(),
		ext.Math(),
		ext.Network(),
		ext.Regex(),
		ext.Sets(),
		ext.Strings(),
		ext.TwoVarComprehensions(),
		cellib.Library(),
		cel.Variable("request", requestType),
		cel.Variable("P", principalType),
		cel.Variable("R", resourceType),
		cel.Variable("runtime", runtimeType),
		cel.Variable("variables", variablesType),
		cel.Variable("V", variablesType),
		cel.Variable("constants", constantsType),
		cel.Variable("C", constantsType),
		cel.Variable("globals", globalsType),
		cel.Variable("G", globalsType),
		cel.Variable(cellib.NowIdent, types.TimestampType),
	}
	opts = append(opts, cellib.Macros()...)
	e, err := cel.NewEnv(opts...)
	if err != nil {
		return nil, fmt.Errorf("building CEL environment: %w", err)
	}
	return &env{cel: e}, nil
}
