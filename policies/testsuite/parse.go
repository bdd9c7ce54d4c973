package testsuite

import (
	"fmt"
	"regexp"
	"sort"

	"go.yaml.in/yaml/v3"

	"github.com/gatehouse/gatehouse/policies"
)

// ParseSuite parses a suite file. file is the name results report it under. Every problem
// is returned in one *DocumentError, each with its line and column.
func ParseSuite(file string, data []byte) (*Suite, error) {
	root, err := parseDocument(data)
	if err != nil {
		return nil, err
	}
	d := &decoder{}
	s := &Suite{File: file}
	var testsNode *yaml.Node
	d.object(root, "", func(name string, f field, path string) bool {
		switch name {
		case "$schema":
		case "name":
			s.Name = d.str(f.val, path)
		case "description":
			s.Description = d.str(f.val, path)
		case "skip":
			s.Skip = d.boolean(f.val, path)
		case "skipReason":
			s.SkipReason = d.str(f.val, path)
		case "options":
			s.Options = d.options(f.val, path)
		case "principals":
			s.Fixtures.Principals = d.principals(f.val, path)
		case "resources":
			s.Fixtures.Resources = d.resources(f.val, path)
		case "auxData":
			s.Fixtures.AuxData = d.auxDataMap(f.val, path)
		case "principalGroups":
			s.Fixtures.PrincipalGroups = d.groups(f.val, path, "principals")
		case "resourceGroups":
			s.Fixtures.ResourceGroups = d.groups(f.val, path, "resources")
		case "tests":
			testsNode = f.val
			s.Tests = d.tables(f.val, path)
		default:
			return false
		}
		return true
	})
	if s.Name == "" {
		d.fail(nil, "name", "value is required")
	}
	if len(s.Tests) == 0 && (testsNode == nil || len(resolve(testsNode).Content) == 0) {
		d.fail(testsNode, "tests", "value is required")
	}
	if err := d.err(); err != nil {
		return nil, err
	}
	return s, nil
}

var namePattern = regexp.MustCompile(`^[0-9A-Z_a-z]*$`)

func (d *decoder) options(n *yaml.Node, path string) *Options {
	o := &Options{}
	if isNull(n) {
		return o
	}
	d.object(n, path, func(name string, f field, path string) bool {
		switch name {
		case "now":
			o.Now, o.HasNow = d.timestamp(f.val, path)
		case "globals":
			o.Globals = d.values(f.val, path)
		case "lenientScopeSearch":
			o.LenientScopeSearch = d.boolean(f.val, path)
		case "defaultPolicyVersion":
			o.DefaultPolicyVersion = d.str(f.val, path)
		case "defaultScope":
			o.DefaultScope = d.str(f.val, path)
		case "strictEvaluation":
			o.StrictEvaluation = d.boolean(f.val, path)
		default:
			return false
		}
		return true
	})
	return o
}

// entryMap reads a mapping of named entries, each decoded by one.
func entryMap[T any](d *decoder, n *yaml.Node, path string, one func(*yaml.Node, string) T) map[string]T {
	out := map[string]T{}
	if isNull(n) {
		return out
	}
	d.entries(n, path, func(key string, f field, path string) {
		out[key] = one(f.val, path)
	})
	return out
}

func (d *decoder) principals(n *yaml.Node, path string) map[string]policies.Principal {
	return entryMap(d, n, path, d.principal)
}

func (d *decoder) principal(n *yaml.Node, path string) policies.Principal {
	var p policies.Principal
	d.object(n, path, func(name string, f field, path string) bool {
		switch name {
		case "id":
			p.ID = d.str(f.val, path)
		case "roles":
			p.Roles = d.strings(f.val, path)
		case "attr":
			p.Attr = d.values(f.val, path)
		case "policyVersion":
			p.PolicyVersion = d.version(f.val, path)
		case "scope":
			p.Scope = d.str(f.val, path)
		default:
			return false
		}
		return true
	})
	if p.ID == "" {
		d.fail(resolve(n), join(path, "id"), "value is required")
	}
	if len(p.Roles) == 0 {
		d.fail(resolve(n), join(path, "roles"), "value is required")
	}
	return p
}

func (d *decoder) resources(n *yaml.Node, path string) map[string]policies.Resource {
	return entryMap(d, n, path, d.resource)
}

func (d *decoder) resource(n *yaml.Node, path string) policies.Resource {
	var r policies.Resource
	d.object(n, path, func(name string, f field, path string) bool {
		switch name {
		case "kind":
			r.Kind = d.str(f.val, path)
		case "id":
			r.ID = d.str(f.val, path)
		case "attr":
			r.Attr = d.values(f.val, path)
		case "policyVersion":
			r.PolicyVersion = d.version(f.val, path)
		case "scope":
			r.Scope = d.str(f.val, path)
		default:
			return false
		}
		return true
	})
	if r.Kind == "" {
		d.fail(resolve(n), join(path, "kind"), "value is required")
	}
	if r.ID == "" {
		d.fail(resolve(n), join(path, "id"), "value is required")
	}
	return r
}

// version reads a policy version: letters, digits and underscores.
func (d *decoder) version(n *yaml.Node, path string) string {
	v := d.str(n, path)
	if !namePattern.MatchString(v) {
		d.fail(resolve(n), path, "invalid policy version %q: use letters, digits and underscores", v)
	}
	return v
}

func (d *decoder) auxDataMap(n *yaml.Node, path string) map[string]policies.AuxData {
	return entryMap(d, n, path, d.auxData)
}

func (d *decoder) auxData(n *yaml.Node, path string) policies.AuxData {
	var a policies.AuxData
	if isNull(n) {
		return a
	}
	d.object(n, path, func(name string, f field, path string) bool {
		switch name {
		case "jwt":
			a.JWT = d.values(f.val, path)
		case "jwts":
			a.JWTs = d.jwts(f.val, path)
		default:
			return false
		}
		return true
	})
	return a
}

func (d *decoder) jwts(n *yaml.Node, path string) map[string]map[string]any {
	out := map[string]map[string]any{}
	if isNull(n) {
		return out
	}
	d.entries(n, path, func(key string, f field, path string) {
		if key == "" {
			d.fail(f.key, path, "token name is required")
		}
		claims := map[string]any{}
		d.object(f.val, path, func(name string, f field, path string) bool {
			if name != "claims" {
				return false
			}
			claims = d.values(f.val, path)
			return true
		})
		out[key] = claims
	})
	return out
}

// groups reads principalGroups or resourceGroups: name → {member: [keys]}.
func (d *decoder) groups(n *yaml.Node, path, member string) map[string][]string {
	out := map[string][]string{}
	if isNull(n) {
		return out
	}
	d.entries(n, path, func(key string, f field, path string) {
		var keys []string
		d.object(f.val, path, func(name string, f field, path string) bool {
			if name != member {
				return false
			}
			keys = d.strings(f.val, path)
			return true
		})
		if len(keys) == 0 {
			d.fail(resolve(f.val), join(path, member), "value is required")
		}
		out[key] = keys
	})
	return out
}

func (d *decoder) tables(n *yaml.Node, path string) []Table {
	return listOf(d, n, path, "tests", d.table)
}

// listOf reads a sequence whose items one decodes; what names the items in the error for
// anything else.
func listOf[T any](d *decoder, n *yaml.Node, path, what string, one func(*yaml.Node, string) T) []T {
	n = resolve(n)
	if isNull(n) {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		d.fail(n, path, "want a list of %s", what)
		return nil
	}
	out := make([]T, 0, len(n.Content))
	for i, item := range n.Content {
		out = append(out, one(item, fmt.Sprintf("%s[%d]", path, i)))
	}
	return out
}

func (d *decoder) table(n *yaml.Node, path string) Table {
	t := Table{Line: resolve(n).Line}
	hasInput, hasExpected := false, false
	d.object(n, path, func(name string, f field, path string) bool {
		switch name {
		case "name":
			t.Name = d.str(f.val, path)
		case "description":
			t.Description = d.str(f.val, path)
		case "skip":
			t.Skip = d.boolean(f.val, path)
		case "skipReason":
			t.SkipReason = d.str(f.val, path)
		case "options":
			t.Options = d.options(f.val, path)
		case "input":
			hasInput = true
			t.Input = d.tableInput(f.val, path)
		case "expected":
			hasExpected = true
			t.Expected = d.expectations(f.val, path)
		default:
			return false
		}
		return true
	})
	if t.Name == "" {
		d.fail(resolve(n), join(path, "name"), "value is required")
	}
	if !hasInput {
		d.fail(resolve(n), join(path, "input"), "value is required")
	}
	if !hasExpected {
		d.fail(resolve(n), join(path, "expected"), "value is required")
	}
	return t
}

func (d *decoder) tableInput(n *yaml.Node, path string) TableInput {
	var in TableInput
	d.object(n, path, func(name string, f field, path string) bool {
		switch name {
		case "principals":
			in.Principals = d.strings(f.val, path)
		case "principalGroups":
			in.PrincipalGroups = d.strings(f.val, path)
		case "resources":
			in.Resources = d.strings(f.val, path)
		case "resourceGroups":
			in.ResourceGroups = d.strings(f.val, path)
		case "actions":
			in.Actions = d.strings(f.val, path)
		case "auxData":
			in.AuxData = d.str(f.val, path)
		default:
			return false
		}
		return true
	})
	if len(in.Actions) == 0 {
		d.fail(resolve(n), join(path, "actions"), "value is required")
	}
	return in
}

func (d *decoder) expectations(n *yaml.Node, path string) []Expectation {
	return listOf(d, n, path, "expectations", d.expectation)
}

func (d *decoder) expectation(n *yaml.Node, path string) Expectation {
	var e Expectation
	hasActions := false
	d.object(n, path, func(name string, f field, path string) bool {
		switch name {
		case "principal":
			e.Principal = d.str(f.val, path)
		case "principals":
			e.Principals = d.strings(f.val, path)
		case "principalGroups":
			e.PrincipalGroups = d.strings(f.val, path)
		case "resource":
			e.Resource = d.str(f.val, path)
		case "resources":
			e.Resources = d.strings(f.val, path)
		case "resourceGroups":
			e.ResourceGroups = d.strings(f.val, path)
		case "actions":
			hasActions = !isNull(f.val) && len(resolve(f.val).Content) > 0
			e.Actions = d.effects(f.val, path)
		case "outputs":
			e.Outputs = d.outputExpectations(f.val, path)
		default:
			return false
		}
		return true
	})
	at := resolve(n)
	switch {
	case e.Principal == "" && len(e.Principals) == 0 && len(e.PrincipalGroups) == 0:
		d.fail(at, path, "principal, principals, or principalGroups must be present")
	case e.Principal != "" && len(e.Principals) > 0:
		d.fail(at, path, "principal and principals may not both be present")
	}
	switch {
	case e.Resource == "" && len(e.Resources) == 0 && len(e.ResourceGroups) == 0:
		d.fail(at, path, "resource, resources, or resourceGroups must be present")
	case e.Resource != "" && len(e.Resources) > 0:
		d.fail(at, path, "resource and resources may not both be present")
	}
	if !hasActions {
		d.fail(at, join(path, "actions"), "value is required")
	}
	return e
}

// effects reads an action → effect mapping; only EFFECT_ALLOW and EFFECT_DENY are valid.
func (d *decoder) effects(n *yaml.Node, path string) []ActionEffect {
	var out []ActionEffect
	if isNull(n) {
		return nil
	}
	d.entries(n, path, func(action string, f field, path string) {
		if action == "" {
			d.fail(f.key, path, "action name is required")
			return
		}
		switch v := d.str(f.val, path); v {
		case "EFFECT_ALLOW":
			out = append(out, ActionEffect{Action: action, Effect: policies.EffectAllow})
		case "EFFECT_DENY":
			out = append(out, ActionEffect{Action: action, Effect: policies.EffectDeny})
		default:
			d.fail(resolve(f.val), path, "must be one of [EFFECT_ALLOW, EFFECT_DENY], not %q", v)
		}
	})
	return out
}

func (d *decoder) outputExpectations(n *yaml.Node, path string) []OutputExpectation {
	return listOf(d, n, path, "output expectations", d.outputExpectation)
}

func (d *decoder) outputExpectation(item *yaml.Node, p string) OutputExpectation {
	var oe OutputExpectation
	d.object(item, p, func(name string, f field, path string) bool {
		switch name {
		case "action":
			oe.Action = d.str(f.val, path)
		case "expected":
			oe.Expected = d.outputValues(f.val, path)
		default:
			return false
		}
		return true
	})
	if oe.Action == "" {
		d.fail(resolve(item), join(p, "action"), "value is required")
	}
	if len(oe.Expected) == 0 {
		d.fail(resolve(item), join(p, "expected"), "value is required")
	}
	return oe
}

func (d *decoder) outputValues(n *yaml.Node, path string) []OutputValue {
	return listOf(d, n, path, "{src, val}", d.outputValue)
}

func (d *decoder) outputValue(item *yaml.Node, p string) OutputValue {
	var ov OutputValue
	hasVal := false
	d.object(item, p, func(name string, f field, path string) bool {
		switch name {
		case "src":
			ov.Src = d.str(f.val, path)
		case "val":
			hasVal = true
			ov.Val = d.value(f.val, path)
		default:
			return false
		}
		return true
	})
	if ov.Src == "" {
		d.fail(resolve(item), join(p, "src"), "value is required")
	}
	if !hasVal {
		d.fail(resolve(item), join(p, "val"), "value is required")
	}
	return ov
}

// sortedKeys returns a map's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
