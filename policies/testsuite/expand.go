package testsuite

import (
	"fmt"
	"reflect"
	"sort"
	"strings"

	"github.com/gatehouse/gatehouse/policies"
)

// TableError says why a table cannot be expanded into tests.
type TableError struct {
	Table string
	Msg   string
}

func (e *TableError) Error() string { return fmt.Sprintf("invalid test %q: %s", e.Table, e.Msg) }

// Expand turns a table into one test per principal and resource of its input, in input
// order (principals outer), groups expanded after the names listed directly. Every input
// action has an expected effect: EFFECT_DENY unless an expectation says otherwise.
func Expand(t Table, fx Fixtures) ([]Test, error) {
	x := expander{t: t, fx: fx}
	return x.expand()
}

type expander struct {
	t  Table
	fx Fixtures
}

func (x *expander) fail(format string, args ...any) error {
	return &TableError{Table: x.t.Name, Msg: fmt.Sprintf(format, args...)}
}

// pair is one principal and resource key.
type pair struct{ principal, resource string }

func (x *expander) expand() ([]Test, error) {
	in := x.t.Input
	principals, err := x.keys("principal", in.Principals, in.PrincipalGroups, x.fx.PrincipalGroups, func(k string) bool { _, ok := x.fx.Principals[k]; return ok })
	if err != nil {
		return nil, err
	}
	resources, err := x.keys("resource", in.Resources, in.ResourceGroups, x.fx.ResourceGroups, func(k string) bool { _, ok := x.fx.Resources[k]; return ok })
	if err != nil {
		return nil, err
	}
	var aux policies.AuxData
	if in.AuxData != "" {
		a, ok := x.fx.AuxData[in.AuxData]
		if !ok {
			return nil, x.fail("auxData %q not found", in.AuxData)
		}
		aux = a
	}
	effects, outputs, err := x.expectations(principals, resources)
	if err != nil {
		return nil, err
	}
	tests := make([]Test, 0, len(principals)*len(resources))
	for _, p := range principals {
		for _, r := range resources {
			tests = append(tests, x.test(p, r, aux, effects, outputs))
		}
	}
	return tests, nil
}

func (x *expander) test(p, r string, aux policies.AuxData, effects map[pair]map[string]policies.Effect, outputs map[pair]map[string]map[string]any) Test {
	key := pair{p, r}
	expected := make(map[string]policies.Effect, len(x.t.Input.Actions))
	for _, a := range x.t.Input.Actions {
		expected[a] = policies.EffectDeny
		if e, ok := effects[key][a]; ok {
			expected[a] = e
		}
	}
	return Test{
		Name:            TestName{Table: x.t.Name, PrincipalKey: p, ResourceKey: r},
		Description:     x.t.Description,
		Skip:            x.t.Skip,
		SkipReason:      x.t.SkipReason,
		Options:         x.t.Options,
		Principal:       x.fx.Principals[p],
		Resource:        x.fx.Resources[r],
		Actions:         x.t.Input.Actions,
		AuxData:         aux,
		Expected:        expected,
		ExpectedOutputs: outputs[key],
	}
}

// keys lists the fixture keys named directly and through groups, without repeats.
func (x *expander) keys(what string, names, groupNames []string, groups map[string][]string, exists func(string) bool) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	add := func(k string) error {
		if !exists(k) {
			return x.fail("%s %q not found", what, k)
		}
		if !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
		return nil
	}
	for _, k := range names {
		if err := add(k); err != nil {
			return nil, err
		}
	}
	for _, g := range groupNames {
		members, ok := groups[g]
		if !ok {
			return nil, x.fail("%s group %q not found", what, g)
		}
		for _, k := range members {
			if err := add(k); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// expectations gathers the expected effects and outputs per principal and resource,
// checking that they name only inputs and agree with each other.
func (x *expander) expectations(principals, resources []string) (map[pair]map[string]policies.Effect, map[pair]map[string]map[string]any, error) {
	inputActions := setOf(x.t.Input.Actions)
	inPrincipals, inResources := setOf(principals), setOf(resources)
	effects := map[pair]map[string]policies.Effect{}
	outputs := map[pair]map[string]map[string]any{}
	var unknownActions, unknownOutputActions []string
	for _, e := range x.t.Expected {
		ps, err := x.keys("principal", nonEmpty(e.Principal, e.Principals), e.PrincipalGroups, x.fx.PrincipalGroups, func(string) bool { return true })
		if err != nil {
			return nil, nil, err
		}
		rs, err := x.keys("resource", nonEmpty(e.Resource, e.Resources), e.ResourceGroups, x.fx.ResourceGroups, func(string) bool { return true })
		if err != nil {
			return nil, nil, err
		}
		for _, ae := range e.Actions {
			if !inputActions[ae.Action] {
				unknownActions = append(unknownActions, ae.Action)
			}
		}
		for _, oe := range e.Outputs {
			if !inputActions[oe.Action] {
				unknownOutputActions = append(unknownOutputActions, oe.Action)
			}
		}
		for _, p := range ps {
			for _, r := range rs {
				if !inPrincipals[p] || !inResources[r] {
					return nil, nil, x.fail("found an expectation for principal %q and resource %q, but at least one of these is not present in input", p, r)
				}
				if err := x.addExpectation(e, pair{p, r}, effects, outputs); err != nil {
					return nil, nil, err
				}
			}
		}
	}
	if len(unknownActions) > 0 {
		return nil, nil, x.fail("found expectations for actions that do not exist in the input actions list: [%s]", strings.Join(distinctSorted(unknownActions), ","))
	}
	if len(unknownOutputActions) > 0 {
		return nil, nil, x.fail("found output expectations for actions that are not in the input actions list: [%s]", strings.Join(distinctSorted(unknownOutputActions), ","))
	}
	return effects, outputs, nil
}

func (x *expander) addExpectation(e Expectation, key pair, effects map[pair]map[string]policies.Effect, outputs map[pair]map[string]map[string]any) error {
	if effects[key] == nil {
		effects[key] = map[string]policies.Effect{}
	}
	for _, ae := range e.Actions {
		if prev, ok := effects[key][ae.Action]; ok && prev != ae.Effect {
			return x.fail("found inconsistent expectations for principal %q performing action %q on resource %q", key.principal, ae.Action, key.resource)
		}
		effects[key][ae.Action] = ae.Effect
	}
	for _, oe := range e.Outputs {
		if outputs[key] == nil {
			outputs[key] = map[string]map[string]any{}
		}
		byAction := outputs[key][oe.Action]
		if byAction == nil {
			byAction = map[string]any{}
			outputs[key][oe.Action] = byAction
		}
		for _, ov := range oe.Expected {
			if prev, ok := byAction[ov.Src]; ok && !reflect.DeepEqual(prev, ov.Val) {
				return x.fail("found inconsistent expectations for output %q from principal %q performing action %q on resource %q", ov.Src, key.principal, oe.Action, key.resource)
			}
			byAction[ov.Src] = ov.Val
		}
	}
	return nil
}

func nonEmpty(one string, many []string) []string {
	if one != "" {
		return append([]string{one}, many...)
	}
	return many
}

func setOf(keys []string) map[string]bool {
	m := make(map[string]bool, len(keys))
	for _, k := range keys {
		m[k] = true
	}
	return m
}

func distinctSorted(s []string) []string {
	m := setOf(s)
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
