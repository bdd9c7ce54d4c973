package policies

import "go.yaml.in/yaml/v3"

// Effect is the outcome of a rule or of a decision.
type Effect int

const (
	// EffectNoMatch means no rule decided; it becomes a DENY in results.
	EffectNoMatch Effect = iota
	EffectAllow
	EffectDeny
)

func (e Effect) String() string {
	switch e {
	case EffectAllow:
		return "EFFECT_ALLOW"
	case EffectDeny:
		return "EFFECT_DENY"
	default:
		return "EFFECT_NO_MATCH"
	}
}

// ScopePermissions says how a scoped policy combines with its parent scopes.
type ScopePermissions int

const (
	// ScopePermissionsUnset is the zero value; it behaves as ScopePermissionsOverrideParent.
	ScopePermissionsUnset ScopePermissions = iota
	ScopePermissionsOverrideParent
	ScopePermissionsRequireParentalConsent
)

func (s ScopePermissions) String() string {
	switch s {
	case ScopePermissionsOverrideParent:
		return "SCOPE_PERMISSIONS_OVERRIDE_PARENT"
	case ScopePermissionsRequireParentalConsent:
		return "SCOPE_PERMISSIONS_REQUIRE_PARENTAL_CONSENT_FOR_ALLOWS"
	default:
		return "SCOPE_PERMISSIONS_UNSPECIFIED"
	}
}

// PolicyKind names the six kinds of policy document.
type PolicyKind int

const (
	KindUnknown PolicyKind = iota
	KindResource
	KindPrincipal
	KindRole
	KindDerivedRoles
	KindExportVariables
	KindExportConstants
)

// Policy is one parsed policy file.
type Policy struct {
	File        string // path relative to the repository root
	Pos         Position
	APIVersion  string
	Description string
	Disabled    bool
	Annotations map[string]string
	// TopVariables holds the deprecated top-level "variables" map; it is merged into
	// the local variables of resource, principal and derived-roles policies.
	TopVariables []NamedExpr

	Kind            PolicyKind
	KindPos         Position // position of the kind's key ("resourcePolicy:")
	Resource        *ResourcePolicy
	Principal       *PrincipalPolicy
	Role            *RolePolicy
	DerivedRoles    *DerivedRoles
	ExportVariables *ExportVariables
	ExportConstants *ExportConstants
}

// Expr is a CEL expression with the place it came from, so errors can point into the file.
type Expr struct {
	Src   string
	Pos   Position   // where the expression's text starts (inside quotes, below a block indicator)
	Node  Position   // where the scalar holding it starts (the quote or the | or > indicator)
	Style yaml.Style // literal/folded block scalars start on the next line
}

// NamedExpr is a variable definition.
type NamedExpr struct {
	Name string
	Expr Expr
	Pos  Position
}

// NamedValue is a constant definition: any JSON value.
type NamedValue struct {
	Name  string
	Value any
	Pos   Position // of the name
	// ValuePos is where the value starts.
	ValuePos Position
}

// Ref is a name that refers to another policy (an import) or a derived role.
type Ref struct {
	Name string
	Pos  Position
}

// Constants are the constants block of a policy.
type Constants struct {
	Import []Ref
	Local  []NamedValue
}

// Variables are the variables block of a policy.
type Variables struct {
	Import []Ref
	Local  []NamedExpr
}

// Condition is a match tree. Exactly one of Expr, All, Any, None is set.
type Condition struct {
	Pos  Position
	Expr *Expr
	All  []*Condition
	Any  []*Condition
	None []*Condition
}

// RuleOutput holds the output expressions of a rule.
type RuleOutput struct {
	Pos             Position
	RuleActivated   *Expr
	ConditionNotMet *Expr
}

// ResourcePolicy is the body of a resourcePolicy document.
type ResourcePolicy struct {
	Pos                Position
	Resource           string
	Version            string
	Scope              string
	ScopePermissions   ScopePermissions
	ImportDerivedRoles []Ref
	Constants          Constants
	Variables          Variables
	Schemas            *Schemas
	Rules              []*ResourceRule
}

// ResourceRule is one rule of a resource policy.
type ResourceRule struct {
	Pos          Position
	Name         string
	Actions      []string
	Effect       Effect
	Roles        []string
	DerivedRoles []Ref
	Condition    *Condition
	Output       *RuleOutput
}

// Schemas names the JSON schemas that validate principal and resource attributes.
type Schemas struct {
	Principal *SchemaRef
	Resource  *SchemaRef
}

// SchemaRef refers to a schema and the actions for which it is not checked.
type SchemaRef struct {
	Pos               Position
	Ref               string
	IgnoreWhenActions []string
}

// PrincipalPolicy is the body of a principalPolicy document.
type PrincipalPolicy struct {
	Pos              Position
	Principal        string
	Version          string
	Scope            string
	ScopePermissions ScopePermissions
	Constants        Constants
	Variables        Variables
	Rules            []*PrincipalRule
}

// PrincipalRule groups the action rules of a principal policy for one resource kind pattern.
type PrincipalRule struct {
	Pos      Position
	Resource string
	Actions  []*PrincipalAction
}

// PrincipalAction is one action rule of a principal policy.
type PrincipalAction struct {
	Pos       Position
	Action    string
	Effect    Effect
	Name      string
	Condition *Condition
	Output    *RuleOutput
}

// RolePolicy is the body of a rolePolicy document.
type RolePolicy struct {
	Pos              Position
	Role             string
	Version          string
	Scope            string
	ScopePermissions ScopePermissions
	ParentRoles      []string
	Constants        Constants
	Variables        Variables
	Rules            []*RoleRule
}

// RoleRule lists the actions a role may perform on resources of a kind pattern.
type RoleRule struct {
	Pos          Position
	Resource     string
	AllowActions []string
	Name         string
	Condition    *Condition
	Output       *RuleOutput
}

// DerivedRoles is the body of a derivedRoles document.
type DerivedRoles struct {
	Pos         Position
	Name        string
	Constants   Constants
	Variables   Variables
	Definitions []*RoleDef
}

// RoleDef defines one derived role.
type RoleDef struct {
	Pos         Position
	Name        string
	ParentRoles []string
	Condition   *Condition
}

// ExportVariables is the body of an exportVariables document.
type ExportVariables struct {
	Pos         Position
	Name        string
	Definitions []NamedExpr
}

// ExportConstants is the body of an exportConstants document.
type ExportConstants struct {
	Pos         Position
	Name        string
	Definitions []NamedValue
}

// Key returns the policy's identifier as Cerbos prints it ("resource.leave_request.vdefault/acme").
func (p *Policy) Key() string {
	switch p.Kind {
	case KindResource:
		return resourceKey(p.Resource.Resource, p.Resource.Version, p.Resource.Scope)
	case KindPrincipal:
		return principalKey(p.Principal.Principal, p.Principal.Version, p.Principal.Scope)
	case KindRole:
		return roleKey(p.Role.Role, p.Role.Version, p.Role.Scope)
	case KindDerivedRoles:
		return "derived_roles." + p.DerivedRoles.Name
	case KindExportVariables:
		return "export_variables." + p.ExportVariables.Name
	case KindExportConstants:
		return "export_constants." + p.ExportConstants.Name
	}
	return ""
}

// scope returns the scope of a resource, principal or role policy.
func (p *Policy) scope() string {
	switch p.Kind {
	case KindResource:
		return p.Resource.Scope
	case KindPrincipal:
		return p.Principal.Scope
	case KindRole:
		return p.Role.Scope
	}
	return ""
}

func resourceKey(kind, version, scope string) string {
	return withScope("resource."+sanitizeName(kind)+".v"+version, scope)
}

func principalKey(id, version, scope string) string {
	return withScope("principal."+sanitizeName(id)+".v"+version, scope)
}

func roleKey(role, version, scope string) string {
	return withScope("role."+sanitizeName(role)+".v"+version, scope)
}

func withScope(key, scope string) string {
	if scope == "" {
		return key
	}
	return key + "/" + scope
}
