package policies

import (
	"fmt"
	"regexp"

	"github.com/gatehouse/gatehouse/policies/internal/schemas"
)

// Request limits, as in the Cerbos API.
const (
	maxIDLength = 4096
)

var requestVersionPattern = regexp.MustCompile(`^\w*$`)

// Validate checks an input the way the Cerbos API validates a CheckResources request:
// principal id and at least one unique, non-empty role; resource kind and id; at least
// one unique, non-empty action; non-empty attribute keys; well-formed versions and scopes.
func (in *Input) Validate() error {
	p, r := &in.Principal, &in.Resource
	switch {
	case p.ID == "":
		return fmt.Errorf("principal.id: value is required")
	case len(p.ID) > maxIDLength:
		return fmt.Errorf("principal.id: value is longer than %d bytes", maxIDLength)
	case len(p.Roles) == 0:
		return fmt.Errorf("principal.roles: value must contain at least 1 item(s)")
	case r.Kind == "":
		return fmt.Errorf("resource.kind: value is required")
	case r.ID == "":
		return fmt.Errorf("resource.id: value is required")
	case len(in.Actions) == 0:
		return fmt.Errorf("actions: value must contain at least 1 item(s)")
	}
	if err := uniqueNonEmpty("principal.roles", p.Roles); err != nil {
		return err
	}
	if err := uniqueNonEmpty("actions", in.Actions); err != nil {
		return err
	}
	if err := checkVersionAndScope("principal", p.PolicyVersion, p.Scope); err != nil {
		return err
	}
	if err := checkVersionAndScope("resource", r.PolicyVersion, r.Scope); err != nil {
		return err
	}
	if _, empty := p.Attr[""]; empty {
		return fmt.Errorf("principal.attr: keys must not be empty")
	}
	if _, empty := r.Attr[""]; empty {
		return fmt.Errorf("resource.attr: keys must not be empty")
	}
	return nil
}

func checkVersionAndScope(what, version, scope string) error {
	if version != "" && !isWordString(version) {
		return fmt.Errorf("%s.policyVersion: does not match regex pattern `%s`", what, requestVersionPattern)
	}
	if scope != "" && !isScope(scope) {
		return fmt.Errorf("%s.scope: does not match regex pattern `%s`", what, scopePattern)
	}
	return nil
}

// isWordString reports whether s matches ^\w*$ without running the regexp on the hot path.
func isWordString(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

func uniqueNonEmpty(field string, list []string) error {
	var seen map[string]bool
	if len(list) > 16 {
		seen = make(map[string]bool, len(list))
	}
	for i, s := range list {
		if s == "" {
			return fmt.Errorf("%s[%d]: value length must be at least 1 characters", field, i)
		}
		dup := false
		if seen != nil {
			dup = seen[s]
			seen[s] = true
		} else {
			dup = containsString(list[:i], s)
		}
		if dup {
			return fmt.Errorf("%s: repeated value must contain unique items", field)
		}
	}
	return nil
}

// schemaCheck validates attributes against the schemas of the resource policy that the
// request's scope resolves to (which are those of the root-scoped policy of that kind and
// version). It returns false when enforcement is reject and validation failed: every
// action is then denied without evaluating rules.
func (d *decider) schemaCheck(out *Output) bool {
	enf := d.s.cfg.SchemaEnforcement
	if enf == SchemaEnforcementNone || len(d.rchain) == 0 {
		return true
	}
	rp := d.rs.rpols[0]
	if rp == nil {
		return true
	}
	in := d.rs.in
	errs := out.ValidationErrors[:0]
	check := func(sc *schemaCheck, attrs map[string]any, src schemas.Source) {
		if sc == nil || sc.schema == nil || (sc.ignore != nil && allMatch(sc.ignore, in.Actions)) {
			return
		}
		for _, e := range sc.schema.Validate(attrs, src) {
			errs = append(errs, ValidationError{Path: e.Path, Message: e.Message, Source: e.Source.String()})
		}
	}
	check(rp.principalSchema, in.Principal.Attr, schemas.SourcePrincipal)
	check(rp.resourceSchema, in.Resource.Attr, schemas.SourceResource)
	out.ValidationErrors = errs
	if len(errs) == 0 || enf != SchemaEnforcementReject {
		return true
	}
	for _, a := range in.Actions {
		out.Actions = append(out.Actions, ActionResult{Action: a, Effect: EffectDeny, Policy: d.resourceKey})
	}
	return false
}

func allMatch(m *matcher, actions []string) bool {
	for _, a := range actions {
		if !m.match(a) {
			return false
		}
	}
	return true
}

// isScope reports whether s matches the scope pattern ^(\.|[0-9a-zA-Z][\w\-]*(\.\w[\w\-]*)*)$
// (or is empty) without running the regular expression on the request path.
func isScope(s string) bool {
	if s == "" || s == "." {
		return true
	}
	segStart := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		switch {
		case segStart:
			// the first segment starts with a letter or digit, later ones with a word character
			if !alnum && !(i > 0 && c == '_') {
				return false
			}
			segStart = false
		case c == '.':
			segStart = true
		case !alnum && c != '_' && c != '-':
			return false
		}
	}
	return !segStart
}
