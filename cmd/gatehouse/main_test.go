package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func runCLI(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(context.Background(), args, strings.NewReader(stdin), &out, &errOut)
	return code, out.String(), errOut.String()
}

const docPolicy = `apiVersion: api.cerbos.dev/v1
resourcePolicy:
  resource: document
  version: default
  rules:
    - actions: ["read"]
      effect: EFFECT_ALLOW
      roles: ["user"]
      output:
        when:
          ruleActivated: 'now()'
    - actions: ["update"]
      effect: EFFECT_ALLOW
      roles: ["user"]
      condition:
        match:
          expr: R.attr.owner == P.id && G.env == "test"
`

func TestCheckAnswersEachLine(t *testing.T) {
	dir := writeFiles(t, map[string]string{"document.yaml": docPolicy})
	requests := strings.Join([]string{
		`{"requestId":"1","includeMeta":true,"principal":{"id":"alice","roles":["user"]},"resources":[{"actions":["read","update"],"resource":{"kind":"document","id":"d1","attr":{"owner":"alice"}}}]}`,
		``,
		`{"request_id":"2","principal":{"id":"bob","roles":["user"]},"resources":[{"actions":["update"],"resource":{"kind":"document","id":"d1","attr":{"owner":"alice"}}}]}`,
	}, "\n")
	code, stdout, stderr := runCLI(t, requests, "check", "--policies", dir, "--globals", `{"env":"test"}`, "--now", "2026-01-02T03:04:05Z")
	if code != exitOK {
		t.Fatalf("exit %d, stderr: %s", code, stderr)
	}
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if len(lines) != 2 {
		t.Fatalf("got %d lines: %s", len(lines), stdout)
	}
	var first struct {
		RequestID string `json:"requestId"`
		Results   []struct {
			Actions map[string]string `json:"actions"`
			Meta    struct {
				Actions map[string]struct{ MatchedPolicy string } `json:"actions"`
			} `json:"meta"`
			Outputs []struct{ Src, Action, Val string } `json:"outputs"`
		} `json:"results"`
	}
	if err := json.Unmarshal([]byte(lines[0]), &first); err != nil {
		t.Fatal(err)
	}
	r := first.Results[0]
	if first.RequestID != "1" || r.Actions["read"] != "EFFECT_ALLOW" || r.Actions["update"] != "EFFECT_ALLOW" {
		t.Errorf("first answer: %s", lines[0])
	}
	if r.Meta.Actions["read"].MatchedPolicy != "resource.document.vdefault" {
		t.Errorf("meta: %s", lines[0])
	}
	if len(r.Outputs) != 1 || r.Outputs[0].Val != "2026-01-02T03:04:05Z" || r.Outputs[0].Src != "resource.document.vdefault#rule-001" {
		t.Errorf("outputs with a fixed clock: %s", lines[0])
	}
	if !strings.Contains(lines[1], `"requestId":"2"`) || !strings.Contains(lines[1], `"update":"EFFECT_DENY"`) || strings.Contains(lines[1], "meta") {
		t.Errorf("second answer: %s", lines[1])
	}
}

func TestCheckReportsBadRequestsAndContinues(t *testing.T) {
	dir := writeFiles(t, map[string]string{"document.yaml": docPolicy})
	requests := `{"principal":{"id":"alice","roles":[]},"resources":[{"actions":["read"],"resource":{"kind":"document","id":"d1"}}]}
not json
{"principal":{"id":"alice","roles":["user"]},"resources":[{"actions":["read"],"resource":{"kind":"document","id":"d1"}}]}
`
	code, stdout, stderr := runCLI(t, requests, "check", "--policies", dir)
	if code != exitFailure {
		t.Errorf("exit %d, want %d", code, exitFailure)
	}
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], `{"code":3,"message":`) || !strings.HasPrefix(lines[1], `{"code":3,"message":"invalid JSON`) || !strings.Contains(lines[2], "EFFECT_ALLOW") {
		t.Errorf("stdout:\n%s", stdout)
	}
	if !strings.Contains(stderr, "2 request(s) failed validation") {
		t.Errorf("stderr: %s", stderr)
	}
}

func TestBrokenPoliciesExitWithEveryProblem(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"a.yaml":       strings.Replace(docPolicy, "version: default", "version: default\n  owner: me", 1),
		"sub/b.yaml":   strings.NewReplacer(`R.attr.owner == P.id`, `R.attr.owner === P.id`, "resource: document", "resource: b").Replace(docPolicy),
		"ok/good.yaml": strings.Replace(docPolicy, "resource: document", "resource: other", 1),
	})
	for _, args := range [][]string{{"check", "--policies", dir}, {"compile", dir}} {
		code, _, stderr := runCLI(t, "", args...)
		if code != exitPolicies {
			t.Errorf("%v: exit %d, want %d", args, code, exitPolicies)
		}
		for _, want := range []string{`a.yaml:5:3: unknown field "owner"`, "sub/b.yaml:17:32: invalid expression `R.attr.owner === P.id", "2 problem(s)"} {
			if !strings.Contains(stderr, want) {
				t.Errorf("%v: stderr lacks %q:\n%s", args, want, stderr)
			}
		}
	}
}

func TestUsageErrors(t *testing.T) {
	dir := writeFiles(t, map[string]string{"document.yaml": docPolicy})
	for _, args := range [][]string{
		{"check"},
		{"check", "--policies", dir, "--schema-enforcement", "sometimes"},
		{"check", "--policies", dir, "--now", "yesterday"},
		{"check", "--policies", dir, "--globals", "[1]"},
		{"check", "--policies", dir, "--jwks", "nokey"},
		{"check", "--policies", dir, "--no-such-flag"},
	} {
		code, _, stderr := runCLI(t, "", args...)
		if code != exitUsage {
			t.Errorf("%v: exit %d, want %d (stderr %s)", args, code, exitUsage, stderr)
		}
	}
	if code, _, _ := runCLI(t, "", "check", "--policies", filepath.Join(dir, "missing")); code == exitOK {
		t.Error("a missing policy directory succeeded")
	}
}

func TestCompileAndVersion(t *testing.T) {
	dir := writeFiles(t, map[string]string{"document.yaml": docPolicy})
	code, stdout, _ := runCLI(t, "", "compile", dir)
	if code != exitOK || !strings.Contains(stdout, "1 policies compiled") {
		t.Errorf("compile: exit %d, %s", code, stdout)
	}
	code, stdout, _ = runCLI(t, "", "version")
	if code != exitOK || !strings.HasPrefix(stdout, "gatehouse ") {
		t.Errorf("version: exit %d, %q", code, stdout)
	}
}
