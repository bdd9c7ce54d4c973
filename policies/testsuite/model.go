package testsuite

import (
	"time"

	"github.com/gatehouse/gatehouse/policies"
)

// Suite is one parsed test suite file.
type Suite struct {
	// File is the suite's path relative to the tests directory, with forward slashes.
	File        string
	Name        string
	Description string
	Skip        bool
	SkipReason  string
	Options     *Options
	Fixtures    Fixtures
	Tests       []Table
}

// Options are the settings a suite or a test runs with. A test's options replace its
// suite's wholesale.
type Options struct {
	// Now fixes the clock for now() and timeSince(); HasNow says it was given.
	Now    time.Time
	HasNow bool
	// Globals are the values policies read as globals.
	Globals              map[string]any
	LenientScopeSearch   bool
	DefaultPolicyVersion string
	DefaultScope         string
	// StrictEvaluation makes an erroring rule deny; Cerbos's default (false) skips it.
	StrictEvaluation bool
}

// Fixtures are the named principals, resources and auxiliary data tests refer to, and the
// groups that name several of them at once.
type Fixtures struct {
	Principals      map[string]policies.Principal
	PrincipalGroups map[string][]string
	Resources       map[string]policies.Resource
	ResourceGroups  map[string][]string
	AuxData         map[string]policies.AuxData
}

// overlay returns the fixtures of f with those of top added, top winning on a name.
func (f Fixtures) overlay(top Fixtures) Fixtures {
	return Fixtures{
		Principals:      mergeMaps(f.Principals, top.Principals),
		PrincipalGroups: mergeMaps(f.PrincipalGroups, top.PrincipalGroups),
		Resources:       mergeMaps(f.Resources, top.Resources),
		ResourceGroups:  mergeMaps(f.ResourceGroups, top.ResourceGroups),
		AuxData:         mergeMaps(f.AuxData, top.AuxData),
	}
}

func mergeMaps[V any](base, top map[string]V) map[string]V {
	out := make(map[string]V, len(base)+len(top))
	for k, v := range base {
		out[k] = v
	}
	for k, v := range top {
		out[k] = v
	}
	return out
}

// Table is one entry of a suite's tests: a set of principals, resources and actions and
// the effects expected for some of their combinations.
type Table struct {
	Name        string
	Description string
	Skip        bool
	SkipReason  string
	Options     *Options
	Input       TableInput
	Expected    []Expectation
	// Line is the line of the test in its suite file.
	Line int
}

// TableInput names the fixtures and actions a table combines.
type TableInput struct {
	Principals      []string
	PrincipalGroups []string
	Resources       []string
	ResourceGroups  []string
	Actions         []string
	AuxData         string
}

// Expectation gives the effects (and optionally outputs) expected for some principals and
// resources of a table.
type Expectation struct {
	Principal       string
	Principals      []string
	PrincipalGroups []string
	Resource        string
	Resources       []string
	ResourceGroups  []string
	Actions         []ActionEffect
	Outputs         []OutputExpectation
}

// ActionEffect is one expected effect.
type ActionEffect struct {
	Action string
	Effect policies.Effect
}

// OutputExpectation lists the outputs expected for one action.
type OutputExpectation struct {
	Action   string
	Expected []OutputValue
}

// OutputValue is the value a rule's output is expected to produce.
type OutputValue struct {
	Src string
	Val any
}

// TestName identifies one expanded test: the table and the fixture keys combined.
type TestName struct {
	Table        string
	PrincipalKey string
	ResourceKey  string
}

// Test is one principal and resource of a table, with its actions and expectations.
type Test struct {
	Name        TestName
	Description string
	Skip        bool
	SkipReason  string
	Options     *Options
	Principal   policies.Principal
	Resource    policies.Resource
	Actions     []string
	AuxData     policies.AuxData
	// Expected holds an effect for every action (EFFECT_DENY unless an expectation says
	// otherwise).
	Expected map[string]policies.Effect
	// ExpectedOutputs maps an action to the expected value of each output source.
	ExpectedOutputs map[string]map[string]any
}
