package policies

import (
	"fmt"

	"go.yaml.in/yaml/v3"
)

func (r *policyReader) resourcePolicy(n *yaml.Node, path string) *ResourcePolicy {
	fs, ok := r.fields(n, path)
	if !ok {
		return nil
	}
	rp := &ResourcePolicy{Pos: r.pos(n, path)}
	for _, f := range fs {
		switch f.name {
		case "resource", "version":
			// read below with required checks
		case "scope", "scopePermissions", "constants", "variables":
			r.sharedField(f, &rp.Scope, &rp.ScopePermissions, &rp.Constants, &rp.Variables)
		case "importDerivedRoles":
			rp.ImportDerivedRoles = r.refs(f.val, f.path)
		case "schemas":
			rp.Schemas = r.schemas(f.val, f.path)
		case "rules":
			for i, item := range r.seq(f.val, f.path) {
				if rule := r.resourceRule(item, fmt.Sprintf("%s[%d]", f.path, i)); rule != nil {
					rp.Rules = append(rp.Rules, rule)
					if rule.Name == "" {
						rule.Name = fmt.Sprintf("rule-%03d", i+1)
					}
					if len(rule.Roles) == 0 && len(rule.DerivedRoles) == 0 {
						r.probs.add(ErrValidation, r.file, rule.Pos,
							"invalid resource rule: rule '%s' does not specify any roles or derived roles to be matched (set roles or derivedRoles)", rule.Name)
					}
				}
			}
		default:
			r.unknownField(f)
		}
	}
	var kn *yaml.Node
	rp.Resource, kn = r.requiredString(fs, n, path, "resource")
	r.checkNoGlob(kn, path+".resource", rp.Resource)
	rp.Version, kn = r.requiredString(fs, n, path, "version")
	if rp.Version != "" {
		r.checkPattern(kn, path+".version", rp.Version, versionPattern)
	}
	r.checkDuplicateRuleNames(rp.Rules, path)
	return rp
}

func (r *policyReader) checkDuplicateRuleNames(rules []*ResourceRule, path string) {
	first := map[string]int{}
	for i, rule := range rules {
		if j, dup := first[rule.Name]; dup {
			r.probs.add(ErrValidation, r.file, Position{Line: rule.Pos.Line, Column: rule.Pos.Column, Path: fmt.Sprintf("%s.rules[%d]", path, i)},
				"duplicate rule name %q: rule #%d has the same name as rule #%d defined at %s", rule.Name, i+1, j+1, rules[j].Pos)
			continue
		}
		first[rule.Name] = i
	}
}

func (r *policyReader) resourceRule(n *yaml.Node, path string) *ResourceRule {
	fs, ok := r.fields(n, path)
	if !ok {
		return nil
	}
	rule := &ResourceRule{Pos: r.pos(n, path)}
	hasEffect := false
	for _, f := range fs {
		switch f.name {
		case "name":
			rule.Name, _ = r.str(f.val, f.path)
			r.checkPattern(f.key, f.path, rule.Name, ruleNamePattern)
		case "actions":
			var nodes []*yaml.Node
			rule.Actions, nodes = r.strList(f.val, f.path)
			r.nonEmptyUnique(rule.Actions, nodes, f.key, f.path, true)
		case "effect":
			hasEffect = true
			rule.Effect = r.effect(f.val, f.path)
		case "roles":
			var nodes []*yaml.Node
			rule.Roles, nodes = r.strList(f.val, f.path)
			r.nonEmptyUnique(rule.Roles, nodes, f.key, f.path, false)
		case "derivedRoles":
			rule.DerivedRoles = r.refs(f.val, f.path)
		case "condition":
			rule.Condition = r.condition(f)
		case "output":
			rule.Output = r.output(f)
		default:
			r.unknownField(f)
		}
	}
	if rule.Actions == nil {
		r.validationError(resolve(n), path+".actions", "value must contain at least 1 item(s)")
	}
	if !hasEffect {
		r.validationError(resolve(n), path+".effect", "value is required")
	}
	return rule
}

func (r *policyReader) schemas(n *yaml.Node, path string) *Schemas {
	if isNull(n) {
		return nil
	}
	fs, ok := r.fields(n, path)
	if !ok {
		return nil
	}
	s := &Schemas{}
	for _, f := range fs {
		switch f.name {
		case "principalSchema":
			s.Principal = r.schemaRef(f.val, f.path)
		case "resourceSchema":
			s.Resource = r.schemaRef(f.val, f.path)
		default:
			r.unknownField(f)
		}
	}
	return s
}

func (r *policyReader) schemaRef(n *yaml.Node, path string) *SchemaRef {
	if isNull(n) {
		return nil
	}
	fs, ok := r.fields(n, path)
	if !ok {
		return nil
	}
	ref := &SchemaRef{Pos: r.pos(n, path)}
	for _, f := range fs {
		switch f.name {
		case "ref":
			ref.Pos = nodePos(f.key, f.path)
		case "ignoreWhen":
			ifs, _ := r.fields(f.val, f.path)
			for _, inf := range ifs {
				if inf.name != "actions" {
					r.unknownField(inf)
					continue
				}
				var nodes []*yaml.Node
				ref.IgnoreWhenActions, nodes = r.strList(inf.val, inf.path)
				r.nonEmptyUnique(ref.IgnoreWhenActions, nodes, inf.key, inf.path, true)
			}
		default:
			r.unknownField(f)
		}
	}
	ref.Ref, _ = r.requiredString(fs, n, path, "ref")
	return ref
}

func (r *policyReader) principalPolicy(n *yaml.Node, path string) *PrincipalPolicy {
	fs, ok := r.fields(n, path)
	if !ok {
		return nil
	}
	pp := &PrincipalPolicy{Pos: r.pos(n, path)}
	for _, f := range fs {
		switch f.name {
		case "principal", "version":
		case "scope", "scopePermissions", "constants", "variables":
			r.sharedField(f, &pp.Scope, &pp.ScopePermissions, &pp.Constants, &pp.Variables)
		case "rules":
			seen := map[string]int{}
			for i, item := range r.seq(f.val, f.path) {
				ipath := fmt.Sprintf("%s[%d]", f.path, i)
				rule := r.principalRule(item, ipath)
				if rule == nil {
					continue
				}
				if j, dup := seen[rule.Resource]; dup {
					r.errorAt(ErrValidation, resolve(item), ipath, "duplicate rules for resource %q: rule #%d has the same resource as rule #%d", rule.Resource, i+1, j+1)
				}
				seen[rule.Resource] = i
				pp.Rules = append(pp.Rules, rule)
			}
		default:
			r.unknownField(f)
		}
	}
	var kn *yaml.Node
	pp.Principal, kn = r.requiredString(fs, n, path, "principal")
	r.checkNoGlob(kn, path+".principal", pp.Principal)
	pp.Version, kn = r.requiredString(fs, n, path, "version")
	if pp.Version != "" {
		r.checkPattern(kn, path+".version", pp.Version, versionPattern)
	}
	return pp
}

func (r *policyReader) principalRule(n *yaml.Node, path string) *PrincipalRule {
	fs, ok := r.fields(n, path)
	if !ok {
		return nil
	}
	rule := &PrincipalRule{Pos: r.pos(n, path)}
	rule.Resource, _ = r.requiredString(fs, n, path, "resource")
	for _, f := range fs {
		switch f.name {
		case "resource":
		case "actions":
			names := map[string]int{}
			for i, item := range r.seq(f.val, f.path) {
				ipath := fmt.Sprintf("%s[%d]", f.path, i)
				a := r.principalAction(item, ipath)
				if a == nil {
					continue
				}
				if a.Name != "" {
					if j, dup := names[a.Name]; dup {
						r.errorAt(ErrValidation, resolve(item), ipath,
							"duplicate action rule name %q: action rule #%d for resource %q has the same name as action rule #%d defined at %s",
							a.Name, i+1, rule.Resource, j+1, rule.Actions[j].Pos)
					} else {
						names[a.Name] = len(rule.Actions)
					}
				}
				rule.Actions = append(rule.Actions, a)
			}
		default:
			r.unknownField(f)
		}
	}
	if len(rule.Actions) == 0 {
		r.validationError(resolve(n), path+".actions", "value must contain at least 1 item(s)")
	}
	for i, a := range rule.Actions {
		if a.Name == "" {
			a.Name = fmt.Sprintf("%s_rule-%03d", rule.Resource, i+1)
		}
	}
	return rule
}

func (r *policyReader) principalAction(n *yaml.Node, path string) *PrincipalAction {
	fs, ok := r.fields(n, path)
	if !ok {
		return nil
	}
	a := &PrincipalAction{Pos: r.pos(n, path)}
	hasEffect := false
	for _, f := range fs {
		switch f.name {
		case "action":
		case "effect":
			hasEffect = true
			a.Effect = r.effect(f.val, f.path)
		case "name":
			a.Name, _ = r.str(f.val, f.path)
			r.checkPattern(f.key, f.path, a.Name, ruleNamePattern)
		case "condition":
			a.Condition = r.condition(f)
		case "output":
			a.Output = r.output(f)
		default:
			r.unknownField(f)
		}
	}
	a.Action, _ = r.requiredString(fs, n, path, "action")
	if !hasEffect {
		r.validationError(resolve(n), path+".effect", "value is required")
	}
	return a
}

func (r *policyReader) rolePolicy(n *yaml.Node, path string) *RolePolicy {
	fs, ok := r.fields(n, path)
	if !ok {
		return nil
	}
	rp := &RolePolicy{Pos: r.pos(n, path)}
	for _, f := range fs {
		switch f.name {
		case "role":
		case "version":
			rp.Version, _ = r.str(f.val, f.path)
			r.checkPattern(f.key, f.path, rp.Version, rolePolicyVersion)
		case "scope", "scopePermissions", "constants", "variables":
			r.sharedField(f, &rp.Scope, &rp.ScopePermissions, &rp.Constants, &rp.Variables)
			if f.name == "scopePermissions" && rp.ScopePermissions == ScopePermissionsOverrideParent {
				r.validationError(f.key, f.path, "role policies only support SCOPE_PERMISSIONS_REQUIRE_PARENTAL_CONSENT_FOR_ALLOWS")
			}
		case "parentRoles":
			var nodes []*yaml.Node
			rp.ParentRoles, nodes = r.strList(f.val, f.path)
			r.nonEmptyUnique(rp.ParentRoles, nodes, f.key, f.path, false)
		case "rules":
			for i, item := range r.seq(f.val, f.path) {
				if rule := r.roleRule(item, fmt.Sprintf("%s[%d]", f.path, i)); rule != nil {
					rp.Rules = append(rp.Rules, rule)
				}
			}
		default:
			r.unknownField(f)
		}
	}
	var kn *yaml.Node
	rp.Role, kn = r.requiredString(fs, n, path, "role")
	r.checkNoGlob(kn, path+".role", rp.Role)
	if rp.Version == "" {
		rp.Version = "default"
	}
	return rp
}

func (r *policyReader) roleRule(n *yaml.Node, path string) *RoleRule {
	fs, ok := r.fields(n, path)
	if !ok {
		return nil
	}
	rule := &RoleRule{Pos: r.pos(n, path)}
	for _, f := range fs {
		switch f.name {
		case "resource":
		case "allowActions":
			var nodes []*yaml.Node
			rule.AllowActions, nodes = r.strList(f.val, f.path)
			r.nonEmptyUnique(rule.AllowActions, nodes, f.key, f.path, true)
		case "name":
			rule.Name, _ = r.str(f.val, f.path)
			r.checkPattern(f.key, f.path, rule.Name, ruleNamePattern)
		case "condition":
			rule.Condition = r.condition(f)
		case "output":
			rule.Output = r.output(f)
		default:
			r.unknownField(f)
		}
	}
	rule.Resource, _ = r.requiredString(fs, n, path, "resource")
	if rule.AllowActions == nil {
		r.validationError(resolve(n), path+".allowActions", "value must contain at least 1 item(s)")
	}
	return rule
}

func (r *policyReader) derivedRoles(n *yaml.Node, path string) *DerivedRoles {
	fs, ok := r.fields(n, path)
	if !ok {
		return nil
	}
	dr := &DerivedRoles{Pos: r.pos(n, path)}
	for _, f := range fs {
		switch f.name {
		case "name":
		case "constants":
			dr.Constants = r.constants(f.val, f.path)
		case "variables":
			dr.Variables = r.variables(f.val, f.path)
		case "definitions":
			names := map[string]int{}
			for i, item := range r.seq(f.val, f.path) {
				ipath := fmt.Sprintf("%s[%d]", f.path, i)
				def := r.roleDef(item, ipath)
				if def == nil {
					continue
				}
				if j, dup := names[def.Name]; dup {
					r.errorAt(ErrValidation, resolve(item), ipath,
						"duplicate derived role definition %q: definition #%d has the same name as definition #%d at %s",
						def.Name, i+1, j+1, dr.Definitions[j].Pos)
				} else {
					names[def.Name] = len(dr.Definitions)
				}
				dr.Definitions = append(dr.Definitions, def)
			}
		default:
			r.unknownField(f)
		}
	}
	var kn *yaml.Node
	dr.Name, kn = r.requiredString(fs, n, path, "name")
	if dr.Name != "" {
		r.checkPattern(kn, path+".name", dr.Name, refNamePattern)
	}
	if len(dr.Definitions) == 0 {
		r.validationError(resolve(n), path+".definitions", "value is required")
	}
	return dr
}

func (r *policyReader) roleDef(n *yaml.Node, path string) *RoleDef {
	fs, ok := r.fields(n, path)
	if !ok {
		return nil
	}
	def := &RoleDef{Pos: r.pos(n, path)}
	for _, f := range fs {
		switch f.name {
		case "name":
		case "parentRoles":
			var nodes []*yaml.Node
			def.ParentRoles, nodes = r.strList(f.val, f.path)
			r.nonEmptyUnique(def.ParentRoles, nodes, f.key, f.path, true)
		case "condition":
			def.Condition = r.condition(f)
		default:
			r.unknownField(f)
		}
	}
	var kn *yaml.Node
	def.Name, kn = r.requiredString(fs, n, path, "name")
	if def.Name != "" {
		r.checkPattern(kn, path+".name", def.Name, refNamePattern)
	}
	if def.ParentRoles == nil {
		r.validationError(resolve(n), path+".parentRoles", "value must contain at least 1 item(s)")
	}
	return def
}

func (r *policyReader) exportVariables(n *yaml.Node, path string) *ExportVariables {
	ev := &ExportVariables{Pos: r.pos(n, path)}
	name, ok := r.export(n, path, func(f field) { ev.Definitions = r.namedExprs(f.val, f.path) })
	if !ok {
		return nil
	}
	ev.Name = name
	return ev
}

func (r *policyReader) exportConstants(n *yaml.Node, path string) *ExportConstants {
	ec := &ExportConstants{Pos: r.pos(n, path)}
	name, ok := r.export(n, path, func(f field) { ec.Definitions = r.namedValues(f.val, f.path) })
	if !ok {
		return nil
	}
	ec.Name = name
	return ec
}

// export reads the body of an exportVariables or exportConstants policy: a name and
// definitions, which readDefs reads.
func (r *policyReader) export(n *yaml.Node, path string, readDefs func(field)) (string, bool) {
	fs, ok := r.fields(n, path)
	if !ok {
		return "", false
	}
	for _, f := range fs {
		switch f.name {
		case "name":
		case "definitions":
			readDefs(f)
		default:
			r.unknownField(f)
		}
	}
	name, kn := r.requiredString(fs, n, path, "name")
	if name != "" {
		r.checkPattern(kn, path+".name", name, refNamePattern)
	}
	return name, true
}

// sharedField reads a field that resource, principal and role policies have in common.
func (r *policyReader) sharedField(f field, scope *string, perms *ScopePermissions, consts *Constants, vars *Variables) {
	switch f.name {
	case "scope":
		*scope = r.scopeField(f)
	case "scopePermissions":
		*perms = r.scopePermissions(f.val, f.path)
	case "constants":
		*consts = r.constants(f.val, f.path)
	case "variables":
		*vars = r.variables(f.val, f.path)
	}
}
