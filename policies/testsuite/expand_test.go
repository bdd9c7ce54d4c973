package testsuite

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/gatehouse/gatehouse/policies"
)

// getTestsFixtures are the fixtures the verify/test_suite_run_get_tests tables refer to.
func getTestsFixtures() Fixtures {
	fx := Fixtures{
		Principals:      map[string]policies.Principal{},
		Resources:       map[string]policies.Resource{},
		PrincipalGroups: map[string][]string{"management": {"manager", "department_head"}},
		ResourceGroups:  map[string][]string{"management_leave_requests": {"manager_leave_request", "department_head_leave_request"}},
		AuxData:         map[string]policies.AuxData{"test_aux_data": {JWT: map[string]any{"answer": 42.0}}},
	}
	for _, who := range []string{"employee", "manager", "department_head"} {
		fx.Principals[who] = policies.Principal{ID: who, Roles: []string{"user"}}
		fx.Resources[who+"_leave_request"] = policies.Resource{Kind: "leave_request", ID: who}
	}
	return fx
}

// getTestsCase is one verify/test_suite_run_get_tests file.
type getTestsCase struct {
	Table     yaml.Node `yaml:"table"`
	WantTests []any     `yaml:"wantTests"`
	WantErr   string    `yaml:"wantErr"`
}

func TestExpandConformance(t *testing.T) {
	dir := requireConformance(t, "verify/test_suite_run_get_tests")
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no cases in %s: %v", dir, err)
	}
	passed := 0
	for _, f := range files {
		if t.Run(strings.TrimSuffix(filepath.Base(f), ".yaml"), func(t *testing.T) { checkExpandCase(t, f) }) {
			passed++
		}
	}
	t.Logf("verify/test_suite_run_get_tests: %d of %d cases pass", passed, len(files))
}

func checkExpandCase(t *testing.T, file string) {
	var c getTestsCase
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(data, &c); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	d := &decoder{}
	table := d.table(&c.Table, "table")
	if err := d.err(); err != nil {
		t.Fatalf("parsing the table: %v", err)
	}
	tests, err := Expand(table, getTestsFixtures())
	if c.WantErr != "" {
		if err == nil || err.Error() != c.WantErr {
			t.Fatalf("error:\n got %v\nwant %s", err, c.WantErr)
		}
		return
	}
	if err != nil {
		t.Fatalf("unexpected error: %v", err)
	}
	got := make([]any, len(tests))
	for i := range tests {
		got[i] = testTree(&tests[i])
	}
	want := normalize(c.WantTests)
	if !reflect.DeepEqual(want, jsonValue(got)) {
		t.Errorf("tests:\n got %v\nwant %v", jsonValue(got), want)
	}
}

// testTree renders a test in the shape of the cases' wantTests.
func testTree(tc *Test) map[string]any {
	in := map[string]any{
		"principal": fixtureTree(map[string]any{"id": tc.Principal.ID, "roles": tc.Principal.Roles, "attr": tc.Principal.Attr, "policyVersion": tc.Principal.PolicyVersion, "scope": tc.Principal.Scope}),
		"resource":  fixtureTree(map[string]any{"kind": tc.Resource.Kind, "id": tc.Resource.ID, "attr": tc.Resource.Attr, "policyVersion": tc.Resource.PolicyVersion, "scope": tc.Resource.Scope}),
		"actions":   tc.Actions,
	}
	if tc.AuxData.JWT != nil {
		in["auxData"] = map[string]any{"jwt": tc.AuxData.JWT}
	}
	expected := map[string]any{}
	for a, e := range tc.Expected {
		expected[a] = e.String()
	}
	out := map[string]any{
		"name":        map[string]any{"testTableName": tc.Name.Table, "principalKey": tc.Name.PrincipalKey, "resourceKey": tc.Name.ResourceKey},
		"description": tc.Description,
		"input":       in,
		"expected":    expected,
	}
	if len(tc.ExpectedOutputs) > 0 {
		outs := map[string]any{}
		for a, entries := range tc.ExpectedOutputs {
			outs[a] = map[string]any{"entries": entries}
		}
		out["expectedOutputs"] = outs
	}
	if tc.Skip {
		out["skip"] = true
	}
	return out
}

// fixtureTree drops empty fields, as protobuf JSON does.
func fixtureTree(m map[string]any) map[string]any {
	for k, v := range m {
		if v == nil || v == "" || reflect.ValueOf(v).Kind() == reflect.Map && reflect.ValueOf(v).Len() == 0 {
			delete(m, k)
		}
	}
	return m
}

func TestParseSuiteErrorsNameLineAndField(t *testing.T) {
	cases := []struct {
		name, src, want string
	}{
		{"not an object", "x", "1:1 invalid document"},
		{"bad yaml", "name: [", "invalid document"},
		{"unknown field", "name: s\ntests: []\nbogus: 1\n", `3:1 unknown field "bogus"`},
		{"no tests", "name: s\n", "tests: value is required"},
		{"bad effect", "name: s\ntests:\n- name: t\n  input: {principals: [p], resources: [r], actions: [a]}\n  expected:\n  - {principal: p, resource: r, actions: {a: MAYBE}}\n",
			`6:46 tests[0].expected[0].actions["a"]: must be one of [EFFECT_ALLOW, EFFECT_DENY]`},
		{"bad now", "name: s\noptions: {now: yesterday}\ntests: []\n", `2:16 options.now: invalid timestamp value "yesterday"`},
		{"no actions", "name: s\ntests:\n- name: t\n  input: {principals: [p]}\n  expected: []\n", "tests[0].input.actions: value is required"},
		{"repeated principal", "name: s\ntests:\n- name: t\n  input: {principals: [p, p], actions: [a]}\n  expected: []\n", `4:27 tests[0].input.principals[1]: repeated value "p"`},
		{"wrong type", "name: [1]\ntests: []\n", "1:7 name: want a string"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseSuite("s_test.yaml", []byte(c.src))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error = %v, want it to contain %q", err, c.want)
			}
		})
	}
}

func TestParseSuiteMergeKeysAndSnakeCase(t *testing.T) {
	src := `
name: s
principals:
  base: &base
    id: base
    roles: [user]
    policy_version: "v1"
    attr: &attr {a: 1, b: x}
  other:
    <<: *base
    id: other
    attr:
      <<: *attr
      b: y
tests:
- name: t
  input: {principals: [other], resources: [r], actions: [view]}
  expected: [{principal: other, resource: r, actions: {view: EFFECT_ALLOW}}]
`
	s, err := ParseSuite("s_test.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	got := s.Fixtures.Principals["other"]
	want := policies.Principal{ID: "other", Roles: []string{"user"}, PolicyVersion: "v1", Attr: map[string]any{"a": 1.0, "b": "y"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("principal = %+v, want %+v", got, want)
	}
}

func ExampleExpand() {
	fx := Fixtures{
		Principals: map[string]policies.Principal{"alice": {ID: "alice", Roles: []string{"user"}}, "bob": {ID: "bob", Roles: []string{"user"}}},
		Resources:  map[string]policies.Resource{"doc": {Kind: "document", ID: "1"}},
	}
	table := Table{
		Name:     "owners",
		Input:    TableInput{Principals: []string{"alice", "bob"}, Resources: []string{"doc"}, Actions: []string{"view", "edit"}},
		Expected: []Expectation{{Principal: "alice", Resource: "doc", Actions: []ActionEffect{{Action: "edit", Effect: policies.EffectAllow}}}},
	}
	tests, err := Expand(table, fx)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, tc := range tests {
		fmt.Println(tc.Name.PrincipalKey, tc.Name.ResourceKey, tc.Expected["view"], tc.Expected["edit"])
	}
	// Output:
	// alice doc EFFECT_DENY EFFECT_ALLOW
	// bob doc EFFECT_DENY EFFECT_DENY
}
