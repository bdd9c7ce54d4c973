package policies

import (
	"github.com/google/cel-go/cel"

	"github.com/gatehouse/gatehouse/policies/internal/schemas"
)

// program is one compiled CEL expression.
type program struct {
	src string
	prg cel.Program
	// usesRuntime is true when the expression reads runtime.*, directly or through variables.
	usesRuntime bool
}

// usesRuntime reports whether any expression of a condition reads runtime.*.
func (n *condNode) usesRuntime() bool {
	if n == nil {
		return false
	}
	if n.prog != nil && n.prog.usesRuntime {
		return true
	}
	for _, c := range n.nodes {
		if c.usesRuntime() {
			return true
		}
	}
	return false
}

type condOp uint8

const (
	condExpr condOp = iota
	condAll
	condAny
	condNone
)

// condNode is a compiled condition tree. Leaves are evaluated one at a time so that an
// error in one leaf counts as false for that leaf only, as in Cerbos.
type condNode struct {
	op    condOp
	prog  *program
	nodes []*condNode
}

// outputExprs are the compiled output expressions of a rule.
type outputExprs struct {
	activated *program
	notMet    *program
}

// exprEnv is what the expressions of one policy (or derived-roles set) can see: its
// variables, evaluated lazily per request, and its constants.
type exprEnv struct {
	id     int // dense index, used to find the per-request variable frame
	key    string
	vars   []*variable
	varIdx map[string]int
	consts *objectValue
}

type variable struct {
	name string
	prog *program
}

// rule is a compiled resource-policy or principal-policy rule.
type rule struct {
	name      string
	src       string // output source: "<policy key>#<rule name>"
	actions   *matcher
	resources *matcher // principal rules: resource kind pattern
	roles     *matcher // resource rules: static roles
	derived   []*derivedRole
	effect    Effect
	// negate inverts the condition: REQUIRE_PARENTAL_CONSENT_FOR_ALLOWS turns a conditional
	// ALLOW into a DENY of the negated condition.
	negate bool
	cond   *condNode
	output *outputExprs
	env    *exprEnv
}

// derivedRole is a compiled derived-role definition.
type derivedRole struct {
	id      int // dense index for per-request caching
	name    string
	parents *matcher
	cond    *condNode
	env     *exprEnv
	// usesRuntime is true when the condition reads runtime.effectiveDerivedRoles (directly
	// or through variables), so its value depends on where it is evaluated.
	usesRuntime bool
}

// schemaCheck is one compiled schema reference of a resource policy.
type schemaCheck struct {
	schema *schemas.Schema
	ignore *matcher // actions for which the schema is not checked
}

type resourcePolicy struct {
	key     string
	scope   string
	perms   ScopePermissions
	rules   []*rule
	derived []*derivedRole // the derived roles its rules reference
	// schema checks come from the root-scoped policy of the same kind and version.
	principalSchema *schemaCheck
	resourceSchema  *schemaCheck
}

type principalPolicy struct {
	key   string
	scope string
	perms ScopePermissions
	rules []*rule
}

// roleRule is a compiled role-policy rule: an allow-list entry.
type roleRule struct {
	src       string
	resources *matcher // not sanitised, as in Cerbos
	actions   *matcher
	cond      *condNode
	output    *outputExprs
	env       *exprEnv
}

// coversKind reports whether some rule of the role policy is for the resource kind.
func (rp *rolePolicy) coversKind(kind string) bool {
	for _, rr := range rp.rules {
		if rr.resources.match(kind) {
			return true
		}
	}
	return false
}

// scopeVersion groups the role policies of a scope and version.
type scopeVersion struct {
	scope, version string
}

// roleScope identifies the role policies of a role in a scope, across versions.
type roleScope struct {
	role, scope string
}

type rolePolicy struct {
	key     string
	role    string
	scope   string
	parents []string
	rules   []*roleRule
}
