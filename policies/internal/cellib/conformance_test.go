package cellib

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"go.yaml.in/yaml/v3"
)

// celEvalDir holds the CEL conformance cases copied from Cerbos. It lives in
// the shared reference material next to the repository, not in it.
var celEvalDir = filepath.Join("..", "..", "..", "..", "shared", "conformance", "cerbos", "cel_eval")

// libraryCall matches a call of a function this package provides.
var libraryCall = regexp.MustCompile(`\b(now|timeSince|inIPAddrRange|except|intersect|hasIntersection|has_intersection|` +
	`isSubset|is_subset|hierarchy|basePath|dirPath|extPath|joinPath|relPath|volumeName|pathHasPrefix|pathMatch|` +
	`pathMatchAnyOf|spiffe[A-Za-z]*|id)\s*\(`)

// celEvalCase is the part of a cel_eval case this test needs.
type celEvalCase struct {
	Condition struct {
		Expr string `yaml:"expr"`
		All  struct {
			Of []struct {
				Expr string `yaml:"expr"`
			} `yaml:"of"`
		} `yaml:"all"`
	} `yaml:"condition"`
	Request   map[string]any `yaml:"request"`
	Want      bool           `yaml:"want"`
	WantError bool           `yaml:"wantError"`
}

// TestCerbosCELConformance evaluates every expression of the Cerbos cel_eval
// cases that calls one of this package's functions. The cases that use them
// are "all of" conditions expected to hold, so each such expression must be
// true on its own.
func TestCerbosCELConformance(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(celEvalDir, "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		if os.Getenv("CI") == "true" {
			t.Fatalf("no conformance cases in %s", celEvalDir)
		}
		t.Skipf("no conformance cases in %s", celEvalDir)
	}
	env := newTestEnv(t)
	checked := 0
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		var c celEvalCase
		if err := yaml.Unmarshal(data, &c); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		exprs := []string{c.Condition.Expr}
		for _, e := range c.Condition.All.Of {
			exprs = append(exprs, e.Expr)
		}
		principal, _ := jsonNumbers(c.Request["principal"]).(map[string]any)
		resource, _ := jsonNumbers(c.Request["resource"]).(map[string]any)
		vars := map[string]any{"P": principal, "R": resource, "request": jsonNumbers(c.Request)}
		for _, expr := range exprs {
			if !libraryCall.MatchString(expr) {
				continue
			}
			if c.Condition.Expr != "" || !c.Want || c.WantError {
				t.Errorf("%s: case shape not supported by this test: %q", file, expr)
				continue
			}
			checked++
			t.Run(filepath.Base(file)+"/"+expr, func(t *testing.T) {
				checkCase(t, env, celCase{expr: expr, want: true}, vars)
			})
		}
	}
	if checked < 20 {
		t.Errorf("checked only %d expressions; did the case files change?", checked)
	}
}

// jsonNumbers turns the integers YAML produced into float64, as attributes
// decoded from JSON are.
func jsonNumbers(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			out[k] = jsonNumbers(e)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = jsonNumbers(e)
		}
		return out
	case int:
		return float64(v)
	}
	return v
}
