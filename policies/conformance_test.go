package policies

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/gatehouse/gatehouse/policies/internal/conformancedata"
)

// requireConformance returns the path of a conformance sub-directory (see
// conformancedata.Dir).
func requireConformance(t testing.TB, sub string) string {
	t.Helper()
	return conformancedata.Dir(t, sub)
}

// engineCase is one engine conformance file.
type engineCase struct {
	Description string       `json:"description"`
	Inputs      []caseInput  `json:"inputs"`
	WantOutputs []caseOutput `json:"wantOutputs"`
	WantError   bool         `json:"wantError"`
}

type caseInput struct {
	RequestID string          `json:"requestId"`
	Actions   []string        `json:"actions"`
	Principal json.RawMessage `json:"principal"`
	Resource  json.RawMessage `json:"resource"`
	AuxData   *struct {
		JWT map[string]any `json:"jwt"`
	} `json:"auxData"`
}

type caseOutput struct {
	RequestID              string                      `json:"requestId"`
	ResourceID             string                      `json:"resourceId"`
	Actions                map[string]caseActionEffect `json:"actions"`
	EffectiveDerivedRoles  []string                    `json:"effectiveDerivedRoles"`
	EffectiveDerivedRoles2 []string                    `json:"effective_derived_roles"`
	ValidationErrors       []ValidationErrorJSON       `json:"validationErrors"`
	Outputs                []OutputJSON                `json:"outputs"`
}

type caseActionEffect struct {
	Effect string `json:"effect"`
	Policy string `json:"policy"`
	Scope  string `json:"scope"`
}

// readYAMLAsJSON decodes a YAML file and re-encodes it as JSON so that case data goes
// through the same JSON decoding as requests (numbers become float64).
func readYAMLAsJSON(t testing.TB, path string, into any) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var v any
	if err := yaml.Unmarshal(data, &v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	js, err := json.Marshal(jsonCompatible(v))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if err := json.Unmarshal(js, into); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// jsonCompatible converts yaml.v3's map[string]any / map[any]any trees for encoding/json.
func jsonCompatible(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = jsonCompatible(e)
		}
		return x
	case map[any]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[fmt.Sprint(k)] = jsonCompatible(e)
		}
		return m
	case []any:
		for i, e := range x {
			x[i] = jsonCompatible(e)
		}
		return x
	case time.Time:
		return x.Format(time.RFC3339Nano)
	}
	return v
}

// claimsVerifier stands in for JWT verification: engine cases carry decoded claims, so
// the request carries a token that names them.
type claimsVerifier map[string]map[string]any

func (c claimsVerifier) Verify(token, _ string) (map[string]any, error) {
	claims, ok := c[token]
	if !ok {
		return nil, fmt.Errorf("unknown token %q", token)
	}
	return claims, nil
}

// caseRequest builds the CheckResources request JSON for one engine case input.
func caseRequest(in caseInput, verifier claimsVerifier) []byte {
	req := map[string]any{
		"requestId":   in.RequestID,
		"includeMeta": true,
		"principal":   in.Principal,
		"resources":   []any{map[string]any{"actions": in.Actions, "resource": in.Resource}},
	}
	if in.AuxData != nil && in.AuxData.JWT != nil {
		token := fmt.Sprintf("token-%d", len(verifier))
		verifier[token] = in.AuxData.JWT
		req["auxData"] = map[string]any{"jwt": map[string]any{"token": token}}
	}
	data, _ := json.Marshal(req)
	return data
}

type conformanceRun struct {
	name string
	dir  string
	cfg  Config
}

var testGlobals = map[string]any{"environment": "test"}

func TestEngineConformance(t *testing.T) {
	store := requireConformance(t, "store")
	runs := []conformanceRun{
		{"engine", "engine", Config{LenientEvaluation: true}},
		{"engine_strict_scope_search", "engine_strict_scope_search", Config{LenientEvaluation: true}},
		{"engine_lenient_scope_search", "engine_lenient_scope_search", Config{LenientEvaluation: true, LenientScopeSearch: true}},
		{"engine_lenient_rerun", "engine", Config{LenientEvaluation: true, LenientScopeSearch: true}},
		{"engine_schema_enforcement/warn", "engine_schema_enforcement/warn", Config{LenientEvaluation: true, SchemaEnforcement: SchemaEnforcementWarn}},
		{"engine_schema_enforcement/reject", "engine_schema_enforcement/reject", Config{LenientEvaluation: true, SchemaEnforcement: SchemaEnforcementReject}},
	}
	for _, run := range runs {
		t.Run(run.name, func(t *testing.T) {
			dir := requireConformance(t, run.dir)
			cfg := run.cfg
			cfg.Globals = testGlobals
			set, err := LoadDir(store, cfg)
			if err != nil {
				t.Fatalf("loading store: %v", err)
			}
			files, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
			passed := 0
			for _, f := range files {
				ok := t.Run(filepath.Base(f), func(t *testing.T) { runEngineCase(t, set, f) })
				if ok {
					passed++
				}
			}
			t.Logf("%s: %d/%d cases pass", run.name, passed, len(files))
		})
	}
}

func runEngineCase(t *testing.T, set *Set, file string) {
	var c engineCase
	readYAMLAsJSON(t, file, &c)
	if len(c.Inputs) != len(c.WantOutputs) {
		t.Fatalf("case has %d inputs and %d outputs", len(c.Inputs), len(c.WantOutputs))
	}
	for i, in := range c.Inputs {
		verifier := claimsVerifier{}
		reqJSON := caseRequest(in, verifier)
		respJSON, err := set.CheckJSON(reqJSON, verifier)
		if err != nil {
			t.Errorf("input %d: %v\nrequest: %s", i, err, reqJSON)
			continue
		}
		var resp CheckResourcesResponse
		if err := json.Unmarshal(respJSON, &resp); err != nil {
			t.Fatal(err)
		}
		if diff := compareResult(c.WantOutputs[i], resp.Results[0]); diff != "" {
			t.Errorf("input %d (%s): %s\nrequest:  %s\nresponse: %s", i, c.Description, diff, reqJSON, respJSON)
		}
	}
}

// compareResult applies the conformance README's rules: derived roles and validation
// errors as sets, outputs sorted by source, empty equals absent.
func compareResult(want caseOutput, got ResultJSON) string {
	var diffs []string
	for action, w := range want.Actions {
		g := got.Actions[action]
		var gm ActionMetaJSON
		if got.Meta != nil {
			gm = got.Meta.Actions[action]
		}
		if g != w.Effect || gm.MatchedPolicy != w.Policy || gm.MatchedScope != w.Scope {
			diffs = append(diffs, fmt.Sprintf("action %q: got %s %s scope=%q, want %s %s scope=%q",
				action, g, gm.MatchedPolicy, gm.MatchedScope, w.Effect, w.Policy, w.Scope))
		}
	}
	if len(got.Actions) != len(want.Actions) {
		diffs = append(diffs, fmt.Sprintf("got %d actions, want %d", len(got.Actions), len(want.Actions)))
	}
	wantRoles := append(want.EffectiveDerivedRoles, want.EffectiveDerivedRoles2...)
	var gotRoles []string
	if got.Meta != nil {
		gotRoles = got.Meta.EffectiveDerivedRoles
	}
	if !sameSet(wantRoles, gotRoles) {
		diffs = append(diffs, fmt.Sprintf("effectiveDerivedRoles: got %v, want %v", gotRoles, wantRoles))
	}
	if !sameValidationErrors(want.ValidationErrors, got.ValidationErrors) {
		diffs = append(diffs, fmt.Sprintf("validationErrors: got %v, want %v", got.ValidationErrors, want.ValidationErrors))
	}
	if !sameOutputs(want.Outputs, got.Outputs) {
		diffs = append(diffs, fmt.Sprintf("outputs: got %+v, want %+v", got.Outputs, want.Outputs))
	}
	return strings.Join(diffs, "; ")
}

func sameSet(a, b []string) bool {
	a, b = append([]string(nil), a...), append([]string(nil), b...)
	sort.Strings(a)
	sort.Strings(b)
	return len(a) == len(b) && (len(a) == 0 || reflect.DeepEqual(a, b))
}

func sameValidationErrors(a, b []ValidationErrorJSON) bool {
	key := func(l []ValidationErrorJSON) []string {
		var out []string
		for _, e := range l {
			out = append(out, e.Source+"|"+e.Path+"|"+e.Message)
		}
		return out
	}
	return sameSet(key(a), key(b))
}

func sameOutputs(a, b []OutputJSON) bool {
	key := func(l []OutputJSON) []string {
		var out []string
		for _, o := range l {
			v, _ := json.Marshal(o.Val)
			out = append(out, o.Src+"|"+o.Action+"|"+string(v)+"|"+o.Error)
		}
		return out
	}
	ka, kb := key(a), key(b)
	sort.Strings(ka)
	sort.Strings(kb)
	return reflect.DeepEqual(ka, kb) || (len(ka) == 0 && len(kb) == 0)
}
