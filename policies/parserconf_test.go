package policies

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// parserCase is one case_NNN.json of conformance/cerbos/parser.
type parserCase struct {
	Description string `json:"description"`
	WantErrors  []struct {
		Kind     string        `json:"kind"`
		Position *casePosition `json:"position"`
		Message  string        `json:"message"`
	} `json:"wantErrors"`
	Want []struct {
		Message json.RawMessage   `json:"message"`
		Errors  []json.RawMessage `json:"errors"`
	} `json:"want"`
}

// TestParserConformance parses every conformance/cerbos/parser input as a stream of policy
// documents (the Cerbos parser accepts several documents per file; the disk store then
// rejects such files, which TestIndexConformance covers) and compares the problems.
//
// Comparison rule:
//   - every wanted error pairs up with one problem and every problem with one wanted
//     error, by kind (KIND_PARSE_ERROR is ErrParse, KIND_VALIDATION_ERROR is
//     ErrValidation), line and column, and message: gatehouse's message must contain
//     Cerbos's, except for YAML syntax errors (wanted errors without a path), where the
//     wording comes from the YAML library and only the kind, line and column are compared;
//   - the number of policy documents read must equal the number Cerbos reports (want[]);
//   - for each document Cerbos parsed without errors, the policy identity (kind, name, version, scope)
//     and the number of rules must be the same, so that anchors, merge keys and JSON are
//     read as Cerbos reads them.
func TestParserConformance(t *testing.T) {
	dir := requireConformance(t, "parser")
	cases, err := filepath.Glob(filepath.Join(dir, "case_*.json"))
	if err != nil || len(cases) == 0 {
		t.Fatalf("no parser cases in %s: %v", dir, err)
	}
	sort.Strings(cases)
	passed := 0
	var failed []string
	for _, path := range cases {
		name := strings.TrimSuffix(filepath.Base(path), ".json")
		ok := t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			var tc parserCase
			if err := json.Unmarshal(raw, &tc); err != nil {
				t.Fatal(err)
			}
			input, err := os.ReadFile(path + ".input")
			if err != nil {
				t.Fatal(err)
			}
			ps := &problems{}
			docs := parseStream("input.yaml", input, ps)
			var want []wantProblem
			for _, w := range tc.WantErrors {
				wp := wantProblem{file: "input.yaml"}
				wp.line, wp.col = pos(w.Position)
				switch w.Kind {
				case "KIND_PARSE_ERROR":
					wp.category = ErrParse
				case "KIND_VALIDATION_ERROR":
					wp.category = ErrValidation
				}
				if w.Position != nil && w.Position.Path != "" {
					wp.contains = []string{w.Message}
				}
				want = append(want, wp)
			}
			if msg := matchProblems(want, ps.list); msg != "" {
				t.Errorf("%s\n%s", tc.Description, msg)
			}
			if len(tc.WantErrors) > 0 && len(tc.Want) == 0 {
				return // Cerbos reads no document when the YAML itself is broken
			}
			if len(docs) != len(tc.Want) {
				t.Fatalf("%s: read %d documents, want %d", tc.Description, len(docs), len(tc.Want))
			}
			for i, w := range tc.Want {
				if len(w.Message) == 0 || len(w.Errors) > 0 || docs[i] == nil {
					continue
				}
				if got, want := policySummary(docs[i]), cerbosPolicySummary(t, w.Message); got != want {
					t.Errorf("document %d: got %s, want %s", i, got, want)
				}
			}
		})
		if ok {
			passed++
		} else {
			failed = append(failed, name)
		}
	}
	t.Logf("parser: %d/%d cases pass", passed, len(cases))
	if len(failed) > 0 {
		t.Logf("parser: failing cases: %s", strings.Join(failed, ", "))
	}
}

// policySummary names a parsed policy and counts its rules.
func policySummary(p *Policy) string {
	rules := 0
	switch p.Kind {
	case KindResource:
		if p.Resource != nil {
			rules = len(p.Resource.Rules)
		}
	case KindPrincipal:
		if p.Principal != nil {
			rules = len(p.Principal.Rules)
		}
	case KindRole:
		if p.Role != nil {
			rules = len(p.Role.Rules)
		}
	case KindDerivedRoles:
		if p.DerivedRoles != nil {
			rules = len(p.DerivedRoles.Definitions)
		}
	case KindExportVariables:
		if p.ExportVariables != nil {
			rules = len(p.ExportVariables.Definitions)
		}
	case KindExportConstants:
		if p.ExportConstants != nil {
			rules = len(p.ExportConstants.Definitions)
		}
	}
	if !p.complete() {
		return "incomplete"
	}
	return p.Key() + " rules=" + strconv.Itoa(rules)
}

// cerbosPolicySummary is policySummary for a policy in Cerbos's protobuf JSON form.
func cerbosPolicySummary(t *testing.T, raw json.RawMessage) string {
	t.Helper()
	var m struct {
		ResourcePolicy *struct {
			Resource, Version, Scope string
			Rules                    []json.RawMessage
		}
		PrincipalPolicy *struct {
			Principal, Version, Scope string
			Rules                     []json.RawMessage
		}
		RolePolicy *struct {
			Role, Version, Scope string
			Rules                []json.RawMessage
		}
		DerivedRoles *struct {
			Name        string
			Definitions []json.RawMessage
		}
		ExportVariables *struct {
			Name        string
			Definitions map[string]json.RawMessage
		}
		ExportConstants *struct {
			Name        string
			Definitions map[string]json.RawMessage
		}
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	switch {
	case m.ResourcePolicy != nil:
		r := m.ResourcePolicy
		return resourceKey(r.Resource, r.Version, r.Scope) + " rules=" + strconv.Itoa(len(r.Rules))
	case m.PrincipalPolicy != nil:
		r := m.PrincipalPolicy
		return principalKey(r.Principal, r.Version, r.Scope) + " rules=" + strconv.Itoa(len(r.Rules))
	case m.RolePolicy != nil:
		r := m.RolePolicy
		v := r.Version
		if v == "" {
			v = "default"
		}
		return roleKey(r.Role, v, r.Scope) + " rules=" + strconv.Itoa(len(r.Rules))
	case m.DerivedRoles != nil:
		return "derived_roles." + m.DerivedRoles.Name + " rules=" + strconv.Itoa(len(m.DerivedRoles.Definitions))
	case m.ExportVariables != nil:
		return "export_variables." + m.ExportVariables.Name + " rules=" + strconv.Itoa(len(m.ExportVariables.Definitions))
	case m.ExportConstants != nil:
		return "export_constants." + m.ExportConstants.Name + " rules=" + strconv.Itoa(len(m.ExportConstants.Definitions))
	}
	return "incomplete"
}
