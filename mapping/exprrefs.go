package mapping

import (
	"fmt"
	"sort"

	celast "github.com/google/cel-go/common/ast"
	"github.com/google/cel-go/common/types"
)

// BodyReaders returns the key paths of the expressions that read request.body, in file
// order: "routes[2].resource.attr.classification", "identity.sources[0].jwt.principal.id".
// Such expressions only see a body when Envoy forwards it (the ext_authz filter's
// with_request_body), so configuration linters compare the two. Expressions that do not
// parse are left out; loading the configuration reports them.
func (c *Config) BodyReaders() []string {
	var out []string
	add := func(key, src string) {
		if src != "" && readsBody(src) {
			out = append(out, key)
		}
	}
	addAttrs := func(key string, attr map[string]string) {
		names := make([]string, 0, len(attr))
		for n := range attr {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			add(key+"."+n, attr[n])
		}
	}
	addPrincipal := func(key string, p PrincipalExprs) {
		add(key+".id", p.ID)
		add(key+".roles", p.Roles)
		addAttrs(key+".attr", p.Attr)
	}
	for i, s := range c.Identity.Sources {
		key := fmt.Sprintf("identity.sources[%d]", i)
		switch {
		case s.JWT != nil:
			addPrincipal(key+".jwt.principal", s.JWT.Principal)
		case s.JWTAuthn != nil:
			addPrincipal(key+".jwtAuthn.principal", s.JWTAuthn.Principal)
		case s.SPIFFE != nil:
			addPrincipal(key+".spiffe.principal", s.SPIFFE.Principal)
		}
	}
	for i, r := range c.Routes {
		key := fmt.Sprintf("routes[%d]", i)
		add(key+".match.when", r.Match.When)
		add(key+".resource.kindExpr", r.Resource.KindExpr)
		add(key+".resource.id", r.Resource.ID)
		addAttrs(key+".resource.attr", r.Resource.Attr)
		add(key+".resource.policyVersion", r.Resource.PolicyVersion)
		add(key+".resource.scope", r.Resource.Scope)
		add(key+".actionExpr", r.ActionExpr)
	}
	return out
}

// readsBody reports whether the expression selects "body" from the request variable:
// request.body, request.?body, has(request.body), request["body"].
func readsBody(src string) bool {
	env, err := celEnv()
	if err != nil {
		return false
	}
	parsed, iss := env.Parse(src)
	if iss != nil && iss.Err() != nil {
		return false
	}
	isRequest := func(e celast.Expr) bool {
		return e.Kind() == celast.IdentKind && e.AsIdent() == "request"
	}
	found := false
	celast.PreOrderVisit(parsed.NativeRep().Expr(), celast.NewExprVisitor(func(e celast.Expr) {
		switch e.Kind() {
		case celast.SelectKind:
			sel := e.AsSelect()
			found = found || (sel.FieldName() == "body" && isRequest(sel.Operand()))
		case celast.CallKind:
			call := e.AsCall()
			switch call.FunctionName() {
			case "_[_]", "_[?_]", "_?._":
				args := call.Args()
				if len(args) == 2 && isRequest(args[0]) && args[1].Kind() == celast.LiteralKind {
					s, ok := args[1].AsLiteral().(types.String)
					found = found || (ok && string(s) == "body")
				}
			}
		}
	}))
	return found
}
