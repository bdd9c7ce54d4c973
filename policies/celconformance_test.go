package policies

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"
	"testing/fstest"
	"time"

	"go.yaml.in/yaml/v3"
)

// celCase is one cel_eval conformance file: a condition, a request and the expected value.
type celCase struct {
	Condition map[string]any `json:"condition"`
	Request   struct {
		Principal json.RawMessage `json:"principal"`
		Resource  json.RawMessage `json:"resource"`
		AuxData   *struct {
			JWT map[string]any `json:"jwt"`
		} `json:"auxData"`
	} `json:"request"`
	Want      bool `json:"want"`
	WantError bool `json:"wantError"`
}

// celCaseClock is the instant the cel_eval cases are written against.
var celCaseClock = time.Date(2021, 4, 22, 10, 5, 20, 21_000_000, time.FixedZone("", -5*3600))

func TestCELConformance(t *testing.T) {
	dir := requireConformance(t, "cel_eval")
	files, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
	passed := 0
	for _, f := range files {
		if t.Run(filepath.Base(f), func(t *testing.T) { runCELCase(t, f) }) {
			passed++
		}
	}
	t.Logf("cel_eval: %d/%d cases pass", passed, len(files))
}

func runCELCase(t *testing.T, file string) {
	var c celCase
	readYAMLAsJSON(t, file, &c)
	var p Principal
	var r Resource
	decodeRequestPart(t, c.Request.Principal, &p)
	decodeRequestPart(t, c.Request.Resource, &r)
	cond, _ := yaml.Marshal(map[string]any{"match": c.Condition})
	// The condition becomes the only rule of a policy for the request's resource kind.
	policy := fmt.Sprintf(`apiVersion: api.cerbos.dev/v1
resourcePolicy:
  resource: %q
  version: %q
  scope: %q
  rules:
    - actions: ["check"]
      effect: EFFECT_ALLOW
      roles: ["*"]
      condition:
%s`, r.Kind, orDefault(r.PolicyVersion, "default"), r.Scope, indent(string(cond), "        "))
	files := fstest.MapFS{"policy.yaml": {Data: []byte(policy)}}
	for i, anc := range parentScopes(trimScope(r.Scope)) {
		files[fmt.Sprintf("ancestor%d.yaml", i)] = &fstest.MapFile{Data: []byte(fmt.Sprintf(`apiVersion: api.cerbos.dev/v1
resourcePolicy: {resource: %q, version: %q, scope: %q, rules: [{actions: [unused], effect: EFFECT_DENY, roles: ["*"]}]}
`, r.Kind, orDefault(r.PolicyVersion, "default"), anc))}
	}
	load := func(lenient bool) *Set {
		set, err := Load(files, Config{Globals: testGlobals, LenientEvaluation: lenient, Now: func() time.Time { return celCaseClock }})
		if err != nil {
			t.Fatalf("compiling condition: %v", err)
		}
		return set
	}
	set, strictSet := load(true), load(false)
	in := Input{Principal: p, Resource: r, Actions: []string{"check"}}
	if c.Request.AuxData != nil {
		in.AuxData.JWT = c.Request.AuxData.JWT
	}
	got, errs := set.evalConditionForTest(&in, sanitizeName(r.Kind), orDefault(r.PolicyVersion, "default"), trimScope(r.Scope))
	switch {
	case c.WantError && len(errs) == 0:
		t.Errorf("want an evaluation error, got %v", got)
	case !c.WantError && got != c.Want:
		t.Errorf("got %v, want %v (errors: %v)", got, c.Want, errs)
	}
	// The same question through the engine. Lenient evaluation (Cerbos's default) allows
	// when the condition holds; strict evaluation also requires that nothing errored.
	for _, tc := range []struct {
		set   *Set
		allow bool
	}{
		{set, c.Want && !c.WantError},
		{strictSet, c.Want && !c.WantError && len(errs) == 0},
	} {
		out := tc.set.Check([]Input{in})[0]
		want := EffectDeny
		if tc.allow {
			want = EffectAllow
		}
		if len(out.Actions) != 1 || out.Actions[0].Effect != want {
			t.Errorf("engine (lenient evaluation %v) decided %+v, want %v", tc.set.cfg.LenientEvaluation, out.Actions, want)
		}
	}
}

func decodeRequestPart(t *testing.T, raw json.RawMessage, into any) {
	t.Helper()
	var r jsonReader
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	switch x := into.(type) {
	case *Principal:
		*x = r.principal(v, "principal")
	case *Resource:
		*x = r.resource(v, "resource")
	}
	if r.err != nil {
		t.Fatal(r.err)
	}
}

func indent(s, prefix string) string {
	out := ""
	for _, line := range splitLines(s) {
		if line != "" {
			out += prefix + line + "\n"
		}
	}
	return out
}

func splitLines(s string) []string {
	var lines []string
	start := 0
	for i := 0; i < len(s); i++ {
		if s[i] == '\n' {
			lines = append(lines, s[start:i])
			start = i + 1
		}
	}
	return append(lines, s[start:])
}

// evalConditionForTest evaluates the condition of the single rule of the policy for kind,
// reporting its value and the evaluation errors met (lenient evaluation).
func (s *Set) evalConditionForTest(in *Input, kind, version, scope string) (bool, []EvaluationError) {
	rs := newRequestState(s, in, s.Now())
	rs.strict = false
	d := s.newDecider(rs)
	rp := s.resources[policyID{kind, version, scope}]
	r := rp.rules[0]
	holds, _ := d.evalCond(r.cond, rs.frame(r.env, nil))
	errs := append([]EvaluationError(nil), rs.evalErrors...)
	rs.release()
	return holds, errs
}
