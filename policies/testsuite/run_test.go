package testsuite

import (
	"os"
	"os/exec"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/gatehouse/gatehouse/policies"
)

// TestStoreSuites runs the suites kept inside the conformance store, which the real
// `cerbos compile` passes.
func TestStoreSuites(t *testing.T) {
	dir := requireConformance(t, "store")
	repo := loadStore(t)
	r := &Runner{Repo: repo}
	res, err := r.RunFS(os.DirFS(dir))
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	for _, s := range res.Suites {
		files = append(files, s.File)
		if s.Summary.OverallResult != ResultPassed {
			t.Errorf("%s: %s %s", s.File, s.Summary.OverallResult, s.Error)
		}
	}
	want := "resource_policies/policy_04_test.yaml tests/policy_04_test.yaml tests/policy_05_test.yaml"
	if got := strings.Join(files, " "); got != want {
		t.Errorf("suites = %s, want %s", got, want)
	}
	if res.Summary.OverallResult != ResultPassed || res.Summary.TestsCount != 3 {
		t.Errorf("summary = %+v, want 3 passed", res.Summary)
	}
}

const tinyPolicy = `apiVersion: api.cerbos.dev/v1
resourcePolicy:
  resource: doc
  version: default
  rules:
    - actions: [view]
      effect: EFFECT_ALLOW
      roles: [user]
    - actions: [late]
      effect: EFFECT_ALLOW
      roles: [user]
      condition:
        match:
          expr: now() > timestamp("2020-01-01T00:00:00Z")
    - actions: [tag]
      effect: EFFECT_ALLOW
      roles: [user]
      output:
        when:
          ruleActivated: '"tagged"'
`

func tinyRunner(t *testing.T) *Runner {
	t.Helper()
	repo, err := policies.ReadRepository(fstest.MapFS{"doc.yaml": {Data: []byte(tinyPolicy)}})
	if err != nil {
		t.Fatal(err)
	}
	return &Runner{Repo: repo, Clock: func() time.Time { return time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC) }}
}

func suiteFS(files map[string]string) fstest.MapFS {
	fsys := fstest.MapFS{}
	for name, data := range files {
		fsys[name] = &fstest.MapFile{Data: []byte(data)}
	}
	return fsys
}

const tinyFixtures = `principals:
  alice: {id: alice, roles: [user]}
resources:
  doc1: {kind: doc, id: "1"}
`

func TestRunnerResults(t *testing.T) {
	fsys := suiteFS(map[string]string{
		"a_test.yaml": tinyFixtures + `name: A
tests:
  - name: view
    input: {principals: [alice], resources: [doc1], actions: [view, edit]}
    expected: [{principal: alice, resource: doc1, actions: {view: EFFECT_ALLOW, edit: EFFECT_ALLOW}}]
  - name: clock
    input: {principals: [alice], resources: [doc1], actions: [late]}
    expected: [{principal: alice, resource: doc1, actions: {late: EFFECT_ALLOW}}]
  - name: outputs
    input: {principals: [alice], resources: [doc1], actions: [tag]}
    expected:
      - principal: alice
        resource: doc1
        actions: {tag: EFFECT_ALLOW}
        outputs: [{action: tag, expected: [{src: "resource.doc.vdefault#rule-003", val: other}]}]
`,
		"sub/b_test.json":                `{"name": "B", "skip": true, "skipReason": "later", "tests": [{"name": "x", "input": {"actions": ["view"]}, "expected": []}]}`,
		"sub/testdata/ignored_test.yaml": "not a suite",
		".hidden/c_test.yaml":            "not a suite",
	})
	res, err := tinyRunner(t).RunFS(fsys)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Suites) != 2 || res.Suites[0].File != "a_test.yaml" || res.Suites[1].File != "sub/b_test.json" {
		t.Fatalf("suites = %+v", res.Suites)
	}
	a := res.Suites[0]
	want := Summary{OverallResult: ResultErrored, TestsCount: 4, ResultCounts: []Tally{{ResultPassed, 1}, {ResultFailed, 2}, {ResultErrored, 1}}}
	if !equalSummary(a.Summary, want) {
		t.Errorf("summary = %+v, want %+v", a.Summary, want)
	}
	edit := a.TestCases[0].Principals[0].Resources[0].Actions[1]
	if edit.Details.Failure == nil || edit.Details.Failure.Expected != "EFFECT_ALLOW" || edit.Details.Failure.Actual != "EFFECT_DENY" {
		t.Errorf("edit = %+v", edit.Details)
	}
	late := a.TestCases[1].Principals[0].Resources[0].Actions[0]
	if late.Details.Result != ResultErrored || !strings.Contains(late.Details.Error, "`now`") {
		t.Errorf("late = %+v", late.Details)
	}
	tag := a.TestCases[2].Principals[0].Resources[0].Actions[0]
	if f := tag.Details.Failure; f == nil || len(f.Outputs) != 1 || f.Outputs[0].Mismatched == nil || f.Outputs[0].Mismatched.Actual != "tagged" {
		t.Errorf("tag = %+v", tag.Details)
	}
	if b := res.Suites[1]; b.Summary.OverallResult != ResultSkipped || b.SkipReason != "later" {
		t.Errorf("b = %+v", b)
	}
	if !res.Failed() || res.Summary.OverallResult != ResultErrored {
		t.Errorf("overall = %+v", res.Summary)
	}
}

func equalSummary(a, b Summary) bool {
	if a.OverallResult != b.OverallResult || a.TestsCount != b.TestsCount || len(a.ResultCounts) != len(b.ResultCounts) {
		return false
	}
	for i := range a.ResultCounts {
		if a.ResultCounts[i] != b.ResultCounts[i] {
			return false
		}
	}
	return true
}

// TestRunnerTestOptionsReplaceSuiteOptions checks a test's `now` wins over its suite's and
// that the clock-reading test passes once it has one.
func TestRunnerTestOptionsReplaceSuiteOptions(t *testing.T) {
	fsys := suiteFS(map[string]string{"a_test.yaml": tinyFixtures + `name: A
options: {now: "2019-01-01T00:00:00Z"}
tests:
  - name: suite now
    input: {principals: [alice], resources: [doc1], actions: [late]}
    expected: [{principal: alice, resource: doc1, actions: {late: EFFECT_DENY}}]
  - name: test now
    options: {now: "2021-01-01T00:00:00Z"}
    input: {principals: [alice], resources: [doc1], actions: [late]}
    expected: [{principal: alice, resource: doc1, actions: {late: EFFECT_ALLOW}}]
`})
	res, err := tinyRunner(t).RunFS(fsys)
	if err != nil {
		t.Fatal(err)
	}
	if s := res.Suites[0]; s.Summary.OverallResult != ResultPassed || s.Summary.TestsCount != 2 {
		t.Errorf("summary = %+v (%s)", s.Summary, s.Error)
	}
}

func FuzzParseSuite(f *testing.F) {
	f.Add([]byte("name: s\ntests:\n- name: t\n  input: {principals: [p], resources: [r], actions: [a]}\n  expected: [{principal: p, resource: r, actions: {a: EFFECT_ALLOW}}]\n"))
	f.Add([]byte("a: &a [*a]"))
	f.Add([]byte("<<: {name: x}\ntests: [{<<: *x}]"))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := ParseSuite("f_test.yaml", data)
		if err != nil {
			return
		}
		for _, tb := range s.Tests {
			_, _ = Expand(tb, s.Fixtures)
		}
	})
}

// TestImportsNoTransport keeps the test runner free of Envoy, gRPC and HTTP code.
func TestImportsNoTransport(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Skipf("go list: %v", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		if strings.HasPrefix(dep, "github.com/envoyproxy/") || strings.HasPrefix(dep, "google.golang.org/grpc") || dep == "net/http" {
			t.Errorf("testsuite depends on %s", dep)
		}
	}
}
