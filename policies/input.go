package policies

// Principal is who asks. Attr values are JSON values (numbers float64).
type Principal struct {
	ID            string
	Roles         []string
	Attr          map[string]any
	PolicyVersion string
	Scope         string
}

// Resource is what is asked about.
type Resource struct {
	Kind          string
	ID            string
	Attr          map[string]any
	PolicyVersion string
	Scope         string
}

// AuxData carries verified claims: JWT is request.auxData.jwt; JWTs maps a token name to
// its claims, seen as request.auxData.jwts.<name>.claims.
type AuxData struct {
	JWT  map[string]any
	JWTs map[string]map[string]any
}

// Input is one (principal, resource, actions) question.
type Input struct {
	RequestID string
	Principal Principal
	Resource  Resource
	Actions   []string
	AuxData   AuxData
}

// ActionResult is the decision for one action.
type ActionResult struct {
	Action string
	Effect Effect // EffectAllow or EffectDeny
	// Policy is the matched policy key, or "NO_MATCH".
	Policy string
	// Scope is the scope whose rule decided ("" for the root scope and for default denies).
	Scope string
	// Rule names the rule that decided: the first ALLOW rule that held, or the DENY rule
	// that held or failed; "" for default denies and role-policy restrictions. Unnamed
	// rules are named as in output sources (rule-001, ...).
	Rule string
}

// ValidationError is one JSON-Schema violation of the principal or resource attributes.
type ValidationError struct {
	Path    string
	Message string
	Source  string // "SOURCE_PRINCIPAL" or "SOURCE_RESOURCE"
}

// OutputEntry is the value (or error) of one evaluated rule output.
type OutputEntry struct {
	Src    string
	Action string
	Val    any // JSON value; nil with Error set when evaluation failed
	Error  string
}

// EvaluationError records a CEL expression that failed at run time.
type EvaluationError struct {
	Expression string
	Message    string
}

// Output is the answer to one Input.
type Output struct {
	RequestID  string
	ResourceID string
	// Actions are in the order of Input.Actions (duplicates removed).
	Actions               []ActionResult
	EffectiveDerivedRoles []string
	ValidationErrors      []ValidationError
	Outputs               []OutputEntry
	// EvaluationErrors are the run-time CEL errors met while deciding, sorted and de-duplicated.
	EvaluationErrors []EvaluationError
}

// Action returns the result for an action, and false if the action was not asked.
func (o *Output) Action(name string) (ActionResult, bool) {
	for _, a := range o.Actions {
		if a.Action == name {
			return a, true
		}
	}
	return ActionResult{}, false
}

// NoMatch is the policy reported when no policy applies.
const NoMatch = "NO_MATCH"
