package main

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/tools/txtar"

	"github.com/gatehouse/gatehouse/cmd/gatehouse/internal/cerbospdp"
	"github.com/gatehouse/gatehouse/policies/testsuite"
)

const docSuite = `name: documents
options: {now: "2024-05-01T00:00:00Z"}
principals:
  alice: {id: alice, roles: [user]}
resources:
  doc: {kind: document, id: "1"}
tests:
  - name: users read
    input: {principals: [alice], resources: [doc], actions: [read, delete]}
    expected: [{principal: alice, resource: doc, actions: {read: EFFECT_ALLOW}}]
`

// writeRepo writes a one-policy repository with the given suite files and returns its path.
func writeRepo(t *testing.T, suites map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{"document.yaml": docPolicy}
	for k, v := range suites {
		files[k] = v
	}
	for name, data := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestCompileExitCodes(t *testing.T) {
	failing := strings.Replace(docSuite, "read: EFFECT_ALLOW", "read: EFFECT_ALLOW, delete: EFFECT_ALLOW", 1)
	cases := []struct {
		name  string
		files map[string]string
		args  []string
		code  int
		want  string
	}{
		{"passing suite", map[string]string{"document_test.yaml": docSuite}, nil, exitOK, "PASSED  document_test.yaml  documents  (2 passed)"},
		{"failing suite", map[string]string{"document_test.yaml": failing}, nil, exitTests, "expected EFFECT_ALLOW, got EFFECT_DENY"},
		{"skip tests", map[string]string{"document_test.yaml": failing}, []string{"--skip-tests"}, exitOK, "1 policies compiled"},
		{"run filter", map[string]string{"document_test.yaml": failing}, []string{"--run", "^nothing$"}, exitOK, "skipped: Test name did not match"},
		{"bad suite", map[string]string{"document_test.yaml": "name: x\ntests: [{name: t, input: {actions: [a]}, expected: [{principal: p, resource: r, actions: {a: NOPE}}]}]\n"}, nil, exitTests, `actions["a"]: must be one of`},
		{"compile error", map[string]string{"broken.yaml": "apiVersion: api.cerbos.dev/v1\nresourcePolicy: {resource: x, version: default, rules: [{actions: [a], effect: EFFECT_ALLOW, roles: [r], condition: {match: {expr: 'P.attr.'}}}]}\n"}, nil, exitPolicies, "broken.yaml:"},
		{"no suites", nil, nil, exitOK, "No test suites found"},
		{"bad output", nil, []string{"-o", "xml"}, exitUsage, ""},
		{"bad regexp", nil, []string{"--run", "("}, exitUsage, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := writeRepo(t, c.files)
			code, stdout, stderr := runCLI(t, "", append(append([]string{"compile"}, c.args...), dir)...)
			if code != c.code || !strings.Contains(stdout+stderr, c.want) {
				t.Errorf("exit %d (want %d)\nstdout:\n%s\nstderr:\n%s\nwant %q", code, c.code, stdout, stderr, c.want)
			}
		})
	}
}

func TestCompileTestsDirAndOutputs(t *testing.T) {
	dir := writeRepo(t, nil)
	tests := writeRepo(t, map[string]string{"suites/document_test.yaml": docSuite})
	code, stdout, stderr := runCLI(t, "", "compile", "-o", "json", "--tests", tests, dir)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var res testsuite.Results
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatalf("json output: %v\n%s", err, stdout)
	}
	if len(res.Suites) != 1 || res.Suites[0].File != "suites/document_test.yaml" || res.Summary.TestsCount != 2 {
		t.Errorf("results = %+v", res)
	}

	failing := writeRepo(t, map[string]string{"a_test.yaml": strings.Replace(docSuite, "read: EFFECT_ALLOW", "read: EFFECT_DENY", 1), "b_test.yaml": "x"})
	code, stdout, _ = runCLI(t, "", "compile", "-o", "junit", failing)
	if code != exitTests {
		t.Fatalf("exit %d, want %d", code, exitTests)
	}
	var doc junitSuites
	if err := xml.Unmarshal([]byte(stdout), &doc); err != nil {
		t.Fatalf("junit output: %v\n%s", err, stdout)
	}
	if doc.Tests != 3 || doc.Failures != 1 || doc.Errors != 1 || len(doc.Suites) != 2 {
		t.Errorf("junit totals = tests %d failures %d errors %d suites %d\n%s", doc.Tests, doc.Failures, doc.Errors, len(doc.Suites), stdout)
	}

	code, stdout, _ = runCLI(t, "", "compile", "-o", "list", failing)
	if code != exitTests || !strings.Contains(stdout, "FAILED   a_test.yaml [documents] users read / alice / doc / read") || !strings.Contains(stdout, "1:1 invalid document") {
		t.Errorf("list output (exit %d):\n%s", code, stdout)
	}
}

// TestCompileMatchesCerbos runs `gatehouse compile -o json` and the real `cerbos compile
// -o json` on the conformance store and on verify cases, and compares the results.
func TestCompileMatchesCerbos(t *testing.T) {
	bin := cerbospdp.RequireBinary(t)
	conf := cerbospdp.ConformanceDir(t)
	store := filepath.Join(conf, "store")
	t.Run("store", func(t *testing.T) {
		want, wantCode := cerbosCompile(t, bin, store)
		got := gatehouseCompile(t, exitOK, store)
		if wantCode != 0 {
			t.Fatalf("cerbos compile store: exit %d", wantCode)
		}
		compareCompileJSON(t, want, got)
		var res testsuite.Results
		if err := json.Unmarshal(got, &res); err != nil || len(res.Suites) != 3 || res.Summary.OverallResult != testsuite.ResultPassed {
			t.Errorf("store suites: %v %s", err, got)
		}
	})
	for _, c := range []string{"001", "011", "014", "019", "022", "029", "036", "043", "045"} {
		t.Run("case_"+c, func(t *testing.T) {
			t.Parallel()
			tests := t.TempDir()
			archive, err := os.ReadFile(filepath.Join(conf, "verify", "cases", "case_"+c+".yaml.input"))
			if err != nil {
				t.Fatal(err)
			}
			writeTxtar(t, archive, tests)
			want, wantCode := cerbosCompile(t, bin, "--ignore-schemas", "--tests="+tests, store)
			code := exitOK
			if wantCode != 0 {
				code = exitTests
			}
			got := gatehouseCompile(t, code, "--ignore-schemas", "--tests", tests, store)
			compareCompileJSON(t, want, got)
		})
	}
}

func cerbosCompile(t *testing.T, bin string, args ...string) ([]byte, int) {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"compile", "-o", "json", "--color=never"}, args...)...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("cerbos: %v", err)
	}
	return out, code
}

func gatehouseCompile(t *testing.T, wantCode int, args ...string) []byte {
	t.Helper()
	code, stdout, stderr := runCLI(t, "", append([]string{"compile", "-o", "json"}, args...)...)
	if code != wantCode {
		t.Fatalf("gatehouse compile: exit %d, want %d\n%s", code, wantCode, stderr)
	}
	return []byte(stdout)
}

// compareCompileJSON compares two TestResults JSON documents field by field. Error
// messages are gatehouse's own wording: they must be present exactly where Cerbos has
// one and name the same line numbers and quoted names.
func compareCompileJSON(t *testing.T, want, got []byte) {
	t.Helper()
	var w, g any
	if err := json.Unmarshal(want, &w); err != nil {
		t.Fatalf("cerbos output: %v\n%s", err, want)
	}
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("gatehouse output: %v\n%s", err, got)
	}
	wantErrs, gotErrs := map[string]string{}, map[string]string{}
	w = dropErrors(w, "", wantErrs)
	g = dropErrors(g, "", gotErrs)
	if len(wantErrs) != len(gotErrs) {
		t.Errorf("errors: cerbos %v, gatehouse %v", wantErrs, gotErrs)
	}
	for p, we := range wantErrs {
		ge, ok := gotErrs[p]
		if !ok {
			t.Errorf("%s: cerbos has error %q, gatehouse none", p, we)
			continue
		}
		for _, tok := range errorTokens(we) {
			if !strings.Contains(ge, tok) && !cerbosCamelCaseKey(tok) {
				t.Errorf("%s: gatehouse error %q lacks %s of cerbos's %q", p, ge, tok, we)
			}
		}
	}
	if !reflect.DeepEqual(w, g) {
		wj, _ := json.MarshalIndent(w, "", " ")
		gj, _ := json.MarshalIndent(g, "", " ")
		t.Errorf("results differ\ncerbos:\n%s\ngatehouse:\n%s", wj, gj)
	}
}

// cerbosCamelCaseKey recognises a fixture key Cerbos renders in camelCase in messages
// (gatehouse names it as written).
func cerbosCamelCaseKey(tok string) bool {
	return regexp.MustCompile(`^"[a-z]+[A-Z][A-Za-z]*"$`).MatchString(tok)
}

var (
	errLine   = regexp.MustCompile(`(?m)(?:^|\s)(\d+):\d+ `)
	errQuoted = regexp.MustCompile(`"[^"]*"`)
)

// errorTokens are the parts of an error message both implementations must name: line
// numbers ("N:") and quoted names.
func errorTokens(msg string) []string {
	var out []string
	for _, m := range errLine.FindAllStringSubmatch(msg, -1) {
		out = append(out, m[1]+":")
	}
	return append(out, errQuoted.FindAllString(msg, -1)...)
}

// dropErrors removes nulls and the error strings of suites and test details, recording
// the errors by path.
func dropErrors(v any, path string, errs map[string]string) any {
	switch x := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, e := range x {
			if e == nil {
				continue
			}
			if s, ok := e.(string); ok && k == "error" && (strings.HasSuffix(path, ".details") || regexp.MustCompile(`^\.suites\[\d+\]$`).MatchString(path)) {
				errs[path] = s
				continue
			}
			out[k] = dropErrors(e, path+"."+k, errs)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = dropErrors(e, fmt.Sprintf("%s[%d]", path, i), errs)
		}
		return out
	}
	return v
}

// writeTxtar writes the files of a txtar archive under dir.
func writeTxtar(t *testing.T, archive []byte, dir string) {
	t.Helper()
	for _, f := range txtar.Parse(archive).Files {
		p := filepath.Join(dir, filepath.FromSlash(f.Name))
		if !strings.HasPrefix(p, filepath.Clean(dir)+string(filepath.Separator)) {
			t.Fatalf("archive entry %q escapes the directory", f.Name)
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, f.Data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestCompileIgnoreSchemas: without --ignore-schemas a missing schema is one of the
// problems reported together; with it, the schema is not loaded and the other problems
// (a parse error in one file, a compile error in another) still come in one run.
func TestCompileIgnoreSchemas(t *testing.T) {
	withSchema := "apiVersion: api.cerbos.dev/v1\nresourcePolicy:\n  resource: album\n  version: default\n" +
		"  schemas: {resourceSchema: {ref: cerbos:///missing.json}}\n" +
		"  rules: [{actions: [view], effect: EFFECT_ALLOW, roles: [user]}]\n"
	files := map[string]string{
		"album.yaml":   withSchema,
		"broken.yaml":  "apiVersion: api.cerbos.dev/v1\nresourcePolicy: {resource: x, version: default, rules: [{actions: [a], effect: EFFECT_ALLOW, roles: [r], condition: {match: {expr: 'P.attr.'}}}]}\n",
		"unknown.yaml": "apiVersion: api.cerbos.dev/v1\nresourcePolicy: {resource: y, version: default, colour: blue}\n",
		"album_test.yaml": "name: albums\nprincipals: {u: {id: u, roles: [user]}}\nresources: {a: {kind: album, id: a}}\n" +
			"tests: [{name: view, input: {principals: [u], resources: [a], actions: [view]}, expected: [{principal: u, resource: a, actions: {view: EFFECT_ALLOW}}]}]\n",
	}
	dir := writeRepo(t, files)
	code, stdout, stderr := runCLI(t, "", "compile", dir)
	for _, want := range []string{"album.yaml:", "missing.json", "broken.yaml:", "unknown.yaml:"} {
		if code != exitPolicies || !strings.Contains(stdout+stderr, want) {
			t.Errorf("without --ignore-schemas: exit %d, want %d and %q in:\n%s%s", code, exitPolicies, want, stdout, stderr)
		}
	}
	code, stdout, stderr = runCLI(t, "", "compile", "--ignore-schemas", dir)
	if code != exitPolicies || strings.Contains(stdout+stderr, "missing.json") ||
		!strings.Contains(stderr+stdout, "broken.yaml:") || !strings.Contains(stderr+stdout, "unknown.yaml:") {
		t.Errorf("with --ignore-schemas: exit %d, want %d, both problems and no schema error:\n%s%s", code, exitPolicies, stdout, stderr)
	}
	delete(files, "broken.yaml")
	delete(files, "unknown.yaml")
	code, stdout, stderr = runCLI(t, "", "compile", "--ignore-schemas", writeRepo(t, files))
	if code != exitOK || !strings.Contains(stdout, "1 passed") {
		t.Errorf("with --ignore-schemas and no other problem: exit %d, want %d and the suite run:\n%s%s", code, exitOK, stdout, stderr)
	}
}
