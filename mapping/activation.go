package mapping

import (
	"github.com/google/cel-go/common/ast"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/interpreter"
)

// activation binds the variables of mapping expressions for one request. Values are
// built on first use.
type activation struct {
	view      *RequestView
	params    []param
	paramsVal ref.Val // CEL map of params, built on first use
	claims    map[string]any
	spiffe    *SPIFFE
	scratch   *scratch // pooled storage of the Map call, nil in tests that build their own

	requestObj     objectValue
	sourceObj      objectValue
	destinationObj objectValue
	spiffeObj      objectValue
	request        requestObject
	source         peerObject
	destination    peerObject
	spiffeFields   spiffeObject

	contextVal  ref.Val
	metadataVal ref.Val
}

// init wires the object values to the activation's own fields (once per allocation).
func (a *activation) init() {
	a.requestObj = objectValue{typ: requestType, obj: &a.request}
	a.sourceObj = objectValue{typ: peerType, obj: &a.source}
	a.destinationObj = objectValue{typ: peerType, obj: &a.destination}
	a.spiffeObj = objectValue{typ: spiffeType, obj: &a.spiffeFields}
}

// reset prepares the activation for a request view (nil: forget the last one).
func (a *activation) reset(v *RequestView) {
	a.view, a.claims, a.spiffe, a.scratch = v, nil, nil, nil
	a.params, a.paramsVal = a.params[:0], nil
	a.contextVal, a.metadataVal = nil, nil
	a.request = requestObject{v: v}
	a.source, a.destination = peerObject{}, peerObject{}
	if v != nil {
		a.source.p, a.destination.p = &v.Source, &v.Destination
	}
	a.spiffeFields = spiffeObject{}
}

// setParams replaces the path parameters.
func (a *activation) setParams(p []param) {
	a.params, a.paramsVal = p, nil
}

func (a *activation) param(name string) (string, bool) {
	for _, p := range a.params {
		if p.name == name {
			return p.value, true
		}
	}
	return "", false
}

// ResolveName implements interpreter.Activation.
func (a *activation) ResolveName(name string) (any, bool) {
	switch name {
	case "request":
		return &a.requestObj, true
	case "params":
		if a.paramsVal == nil {
			m := make(map[string]string, len(a.params))
			for _, p := range a.params {
				m[p.name] = p.value
			}
			a.paramsVal = stringMap(m)
		}
		return a.paramsVal, true
	case "context":
		if a.contextVal == nil {
			a.contextVal = stringMap(a.view.ContextExtensions)
		}
		return a.contextVal, true
	case "metadata":
		if a.metadataVal == nil {
			m := map[string]any{}
			for ns, s := range a.view.Metadata.GetFilterMetadata() {
				m[ns] = structToMap(s)
			}
			a.metadataVal = types.NewStringInterfaceMap(types.DefaultTypeAdapter, m)
		}
		return a.metadataVal, true
	case "source":
		return &a.sourceObj, true
	case "destination":
		return &a.destinationObj, true
	case "claims":
		if a.claims == nil {
			return types.NewStringInterfaceMap(types.DefaultTypeAdapter, map[string]any{}), true
		}
		return types.NewStringInterfaceMap(types.DefaultTypeAdapter, a.claims), true
	case "spiffe":
		a.spiffeFields.s = a.spiffe
		return &a.spiffeObj, true
	}
	return nil, false
}

// Parent implements interpreter.Activation.
func (a *activation) Parent() interpreter.Activation { return nil }

func stringMap(m map[string]string) ref.Val {
	if m == nil {
		m = map[string]string{}
	}
	return types.NewStringStringMap(types.DefaultTypeAdapter, m)
}

// directFieldOf recognises "params.x", "claims.x", "context.x" and the index forms with a
// string literal, which are read without running CEL.
func directFieldOf(a interface{ NativeRep() *ast.AST }) *directField {
	e := a.NativeRep().Expr()
	var operand ast.Expr
	var name string
	switch e.Kind() {
	case ast.SelectKind:
		sel := e.AsSelect()
		if sel.IsTestOnly() {
			return nil
		}
		operand, name = sel.Operand(), sel.FieldName()
	case ast.CallKind:
		call := e.AsCall()
		if call.FunctionName() != "_[_]" || len(call.Args()) != 2 || call.Args()[1].Kind() != ast.LiteralKind {
			return nil
		}
		s, ok := call.Args()[1].AsLiteral().(types.String)
		if !ok {
			return nil
		}
		operand, name = call.Args()[0], string(s)
	default:
		return nil
	}
	if operand.Kind() != ast.IdentKind {
		return nil
	}
	switch v := operand.AsIdent(); v {
	case "params", "claims", "context":
		return &directField{variable: v, name: name}
	}
	return nil
}

// directGo reads a directField as a Go value; false means "not present".
func (a *activation) directGo(f *directField) (any, bool) {
	switch f.variable {
	case "params":
		s, ok := a.param(f.name)
		return s, ok
	case "context":
		s, ok := a.view.ContextExtensions[f.name]
		return s, ok
	case "claims":
		v, ok := a.claims[f.name]
		return v, ok
	}
	return nil, false
}

// directString reads a directField that holds a string, without boxing it.
func (a *activation) directString(f *directField) (string, bool) {
	switch f.variable {
	case "params":
		return a.param(f.name)
	case "context":
		s, ok := a.view.ContextExtensions[f.name]
		return s, ok
	case "claims":
		s, ok := a.claims[f.name].(string)
		return s, ok
	}
	return "", false
}

// directLookup reads a directField; false means "not present", and CEL then reports it.
func (a *activation) directLookup(f *directField) (ref.Val, bool) {
	switch f.variable {
	case "params":
		if s, ok := a.param(f.name); ok {
			return types.String(s), true
		}
	case "context":
		if s, ok := a.view.ContextExtensions[f.name]; ok {
			return types.String(s), true
		}
	case "claims":
		if v, ok := a.claims[f.name]; ok {
			return types.DefaultTypeAdapter.NativeToValue(v), true
		}
	}
	return nil, false
}

// requestObject is "request".
type requestObject struct {
	v       *RequestView
	headers ref.Val
	query   ref.Val
}

func (r *requestObject) field(name string) ref.Val {
	v := r.v
	switch name {
	case "method":
		return types.String(v.Method)
	case "path":
		return types.String(v.Path)
	case "rawPath":
		return types.String(v.RawPath)
	case "host":
		return types.String(v.Host)
	case "scheme":
		return types.String(v.Scheme)
	case "protocol":
		return types.String(v.Protocol)
	case "id":
		return types.String(v.ID)
	case "headers":
		if r.headers == nil {
			r.headers = stringMap(v.headerMap())
		}
		return r.headers
	case "query":
		if r.query == nil {
			q := map[string]string{}
			for k, vals := range v.Query() {
				if len(vals) > 0 {
					q[k] = vals[0]
				}
			}
			r.query = stringMap(q)
		}
		return r.query
	case "body":
		return types.DefaultTypeAdapter.NativeToValue(v.JSONBody())
	}
	return types.NewErr("no such field: %s", name)
}

func (r *requestObject) has(name string) bool {
	switch name {
	case "body":
		return r.v.JSONBody() != nil
	case "headers":
		return len(r.v.headers) > 0
	case "query":
		return r.v.RawQuery != ""
	}
	s, ok := r.field(name).(types.String)
	return ok && s != ""
}

// peerObject is "source" and "destination".
type peerObject struct {
	p      *Peer
	spiffe spiffeObject
	obj    objectValue
}

func (p *peerObject) field(name string) ref.Val {
	switch name {
	case "address":
		return types.String(p.p.Address)
	case "principal":
		return types.String(p.p.Principal)
	case "spiffe":
		p.spiffe.s = p.p.SPIFFE
		p.obj = objectValue{typ: spiffeType, obj: &p.spiffe}
		return &p.obj
	}
	return types.NewErr("no such field: %s", name)
}

func (p *peerObject) has(name string) bool {
	switch name {
	case "spiffe":
		return p.p.SPIFFE != nil
	case "address":
		return p.p.Address != ""
	}
	return p.p.Principal != ""
}

// spiffeObject is a SPIFFE ID; all fields are empty when there is none.
type spiffeObject struct {
	s *SPIFFE
}

func (o *spiffeObject) field(name string) ref.Val {
	var s SPIFFE
	if o.s != nil {
		s = *o.s
	}
	switch name {
	case "id":
		return types.String(s.ID)
	case "trustDomain":
		return types.String(s.TrustDomain)
	case "path":
		return types.String(s.Path)
	case "namespace":
		return types.String(s.Namespace)
	case "serviceAccount":
		return types.String(s.ServiceAccount)
	}
	return types.NewErr("no such field: %s", name)
}

func (o *spiffeObject) has(name string) bool {
	s, ok := o.field(name).(types.String)
	return ok && s != ""
}
