package schemas

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gobwas/glob"
	"go.yaml.in/yaml/v3"

	"github.com/gatehouse/gatehouse/policies/internal/conformancedata"
)

// requireConformance returns the path of a conformance sub-directory (see
// conformancedata.Dir).
func requireConformance(t testing.TB, sub string) string {
	t.Helper()
	return conformancedata.Dir(t, sub)
}

// jsonAttrs converts attributes decoded from YAML into what the Cerbos API
// would have decoded from JSON: float64 numbers, string timestamps.
func jsonAttrs(t *testing.T, v any) map[string]any {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

type wantValidationError struct {
	Path    string `yaml:"path" json:"path"`
	Message string `yaml:"message" json:"message"`
	Source  string `yaml:"source" json:"source"`
}

func toValidationErrors(ws []wantValidationError) []ValidationError {
	out := make([]ValidationError, len(ws))
	for i, w := range ws {
		src := SourceUnspecified
		switch w.Source {
		case "SOURCE_PRINCIPAL":
			src = SourcePrincipal
		case "SOURCE_RESOURCE":
			src = SourceResource
		}
		out[i] = ValidationError{Path: w.Path, Message: w.Message, Source: src}
	}
	sortValidationErrors(out)
	return out
}

// schemaRef is a resource policy's principalSchema or resourceSchema.
type schemaRef struct {
	Ref        string `yaml:"ref"`
	IgnoreWhen struct {
		Actions []string `yaml:"actions"`
	} `yaml:"ignoreWhen"`
}

// ignored reports whether every action matches one of the ignoreWhen globs.
func (s *schemaRef) ignored(t *testing.T, actions []string) bool {
	if len(s.IgnoreWhen.Actions) == 0 {
		return false
	}
	for _, a := range actions {
		matched := false
		for _, pattern := range s.IgnoreWhen.Actions {
			g, err := glob.Compile(pattern, ':')
			if err != nil {
				t.Fatal(err)
			}
			matched = matched || g.Match(a)
		}
		if !matched {
			return false
		}
	}
	return true
}

// check validates attributes against one schema reference the way the
// engine does: a reference that does not compile yields one error.
func check(reg *Registry, ref string, attrs map[string]any, src Source) []ValidationError {
	s, err := reg.Compile(ref)
	if err != nil {
		return []ValidationError{LoadFailure(ref, src, err)}
	}
	return s.Validate(attrs, src)
}

// TestConformanceSchemaCases runs schema/test_cases/*.yaml against
// schema/fs/_schemas.
func TestConformanceSchemaCases(t *testing.T) {
	dir := requireConformance(t, "schema")
	reg := NewRegistry(os.DirFS(filepath.Join(dir, "fs", "_schemas")))
	files, err := filepath.Glob(filepath.Join(dir, "test_cases", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no test cases: %v", err)
	}
	passed, skipped := 0, 0
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".yaml")
		t.Run(name, func(t *testing.T) {
			var tc struct {
				Description string `yaml:"description"`
				SchemaRefs  struct {
					PrincipalSchema *schemaRef `yaml:"principalSchema"`
					ResourceSchema  *schemaRef `yaml:"resourceSchema"`
				} `yaml:"schemaRefs"`
				CheckInput *struct {
					Actions   []string `yaml:"actions"`
					Principal struct {
						Attr map[string]any `yaml:"attr"`
					} `yaml:"principal"`
					Resource struct {
						Attr map[string]any `yaml:"attr"`
					} `yaml:"resource"`
				} `yaml:"checkInput"`
				PlanResourcesInput   any                   `yaml:"planResourcesInput"`
				WantValidationErrors []wantValidationError `yaml:"wantValidationErrors"`
				WantError            bool                  `yaml:"wantError"`
			}
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			if err := yaml.Unmarshal(data, &tc); err != nil {
				t.Fatal(err)
			}
			if tc.CheckInput == nil {
				// PlanResources validates resource attributes partially (no
				// required properties); gatehouse only answers checks.
				skipped++
				t.Skipf("%s: planResourcesInput is out of scope for an ext_authz engine", tc.Description)
			}
			var got []ValidationError
			failed := false
			for _, side := range []struct {
				ref   *schemaRef
				attrs map[string]any
				src   Source
			}{
				{tc.SchemaRefs.PrincipalSchema, tc.CheckInput.Principal.Attr, SourcePrincipal},
				{tc.SchemaRefs.ResourceSchema, tc.CheckInput.Resource.Attr, SourceResource},
			} {
				if side.ref == nil || side.ref.ignored(t, tc.CheckInput.Actions) {
					continue
				}
				errs := check(reg, side.ref.Ref, jsonAttrs(t, side.attrs), side.src)
				got = append(got, errs...)
				if _, err := reg.Compile(side.ref.Ref); err != nil {
					failed = true
				}
			}
			sortValidationErrors(got)
			want := toValidationErrors(tc.WantValidationErrors)
			if !slices.Equal(got, want) {
				t.Errorf("%s\n got: %q\nwant: %q", tc.Description, got, want)
			}
			if tc.WantError && !failed {
				t.Errorf("%s: want an error, got none", tc.Description)
			}
			if !t.Failed() {
				passed++
			}
		})
	}
	t.Logf("%d of %d checkInput cases passed; %d planResourcesInput cases skipped",
		passed, len(files)-skipped, skipped)
}

// TestConformanceEngineSchemaEnforcement checks the validation errors the
// engine_schema_enforcement cases expect, using the store's schemas. Every
// leave_request resource policy of the store that declares schemas names
// principal.json and resources/leave_request.json.
func TestConformanceEngineSchemaEnforcement(t *testing.T) {
	dir := requireConformance(t, "engine_schema_enforcement")
	store := requireConformance(t, filepath.Join("store", "_schemas"))
	reg := NewRegistry(os.DirFS(store))
	resourceSchemas := map[string]string{"leave_request": "cerbos:///resources/leave_request.json"}
	const principalSchema = "cerbos:///principal.json"

	files, err := filepath.Glob(filepath.Join(dir, "*", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no test cases: %v", err)
	}
	for _, file := range files {
		rel, _ := filepath.Rel(dir, file)
		t.Run(rel, func(t *testing.T) {
			var tc struct {
				Description string `yaml:"description"`
				Inputs      []struct {
					Principal struct {
						Attr map[string]any `yaml:"attr"`
					} `yaml:"principal"`
					Resource struct {
						Kind string         `yaml:"kind"`
						Attr map[string]any `yaml:"attr"`
					} `yaml:"resource"`
				} `yaml:"inputs"`
				WantOutputs []struct {
					ValidationErrors []wantValidationError `yaml:"validationErrors"`
				} `yaml:"wantOutputs"`
			}
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			if err := yaml.Unmarshal(data, &tc); err != nil {
				t.Fatal(err)
			}
			if len(tc.Inputs) != len(tc.WantOutputs) {
				t.Fatalf("%d inputs, %d outputs", len(tc.Inputs), len(tc.WantOutputs))
			}
			for i, in := range tc.Inputs {
				ref, ok := resourceSchemas[in.Resource.Kind]
				if !ok {
					t.Fatalf("no schema known for resource kind %q", in.Resource.Kind)
				}
				got := check(reg, principalSchema, jsonAttrs(t, in.Principal.Attr), SourcePrincipal)
				got = append(got, check(reg, ref, jsonAttrs(t, in.Resource.Attr), SourceResource)...)
				sortValidationErrors(got)
				want := toValidationErrors(tc.WantOutputs[i].ValidationErrors)
				if !slices.Equal(got, want) {
					t.Errorf("%s (input %d)\n got: %q\nwant: %q", tc.Description, i, got, want)
				}
			}
		})
	}
}

// TestConformanceCompileSchemaErrors checks the "invalid schema" errors of
// the compile cases, whose schemas resolve against schema/fs/_schemas. The
// description is the load failure of one schema reference.
func TestConformanceCompileSchemaErrors(t *testing.T) {
	dir := requireConformance(t, "compile")
	schemasDir := requireConformance(t, filepath.Join("schema", "fs", "_schemas"))
	reg := NewRegistry(os.DirFS(schemasDir))
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no test cases: %v", err)
	}
	checked := 0
	for _, file := range files {
		var tc struct {
			WantErrors []struct {
				Error       string `yaml:"error"`
				Description string `yaml:"description"`
			} `yaml:"wantErrors"`
		}
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if err := yaml.Unmarshal(data, &tc); err != nil {
			t.Fatal(err)
		}
		for _, we := range tc.WantErrors {
			if we.Error != "invalid schema" {
				continue
			}
			var src Source
			var rest string
			switch {
			case strings.HasPrefix(we.Description, "Failed to load principal schema "):
				src, rest = SourcePrincipal, strings.TrimPrefix(we.Description, "Failed to load principal schema ")
			case strings.HasPrefix(we.Description, "Failed to load resource schema "):
				src, rest = SourceResource, strings.TrimPrefix(we.Description, "Failed to load resource schema ")
			default:
				t.Errorf("%s: unexpected description %q", file, we.Description)
				continue
			}
			quoted, _, _ := strings.Cut(rest, ": ")
			var ref string
			if err := json.Unmarshal([]byte(quoted), &ref); err != nil {
				t.Fatalf("%s: cannot read the reference in %q", file, we.Description)
			}
			_, err := reg.Compile(ref)
			if err == nil {
				t.Errorf("%s: Compile(%q) succeeded, want %q", file, ref, we.Description)
				continue
			}
			if got := LoadFailure(ref, src, err).Message; got != we.Description {
				t.Errorf("%s:\n got: %s\nwant: %s", file, got, we.Description)
			}
			checked++
		}
	}
	if checked == 0 {
		t.Fatal("no invalid schema errors found")
	}
	t.Logf("%d invalid schema errors checked", checked)
}
