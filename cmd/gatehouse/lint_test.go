package main

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// lintCleanEnvoy has no findings: fail closed, 503 on error, a timeout, V3, an HTTP/2
// cluster.
const lintCleanEnvoy = `static_resources:
  listeners:
  - name: ingress
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: ingress
          route_config:
            virtual_hosts:
            - {name: app, domains: ["*"], routes: [{match: {prefix: /}, route: {cluster: gatehouse}}]}
          http_filters:
          - name: envoy.filters.http.ext_authz
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthz
              transport_api_version: V3
              status_on_error: {code: ServiceUnavailable}
              grpc_service: {envoy_grpc: {cluster_name: gatehouse}, timeout: 1s}
          - name: envoy.filters.http.router
            typed_config: {"@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router}
  clusters:
  - name: gatehouse
    type: STATIC
    http2_protocol_options: {}
`

func TestLintEnvoyCommand(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"clean.yaml":    lintCleanEnvoy,
		"warning.yaml":  strings.Replace(lintCleanEnvoy, "timeout: 1s", "timeout: 30s", 1),
		"error.yaml":    strings.Replace(lintCleanEnvoy, "transport_api_version: V3", "failure_mode_allow: true", 1),
		"broken.yaml":   strings.Replace(lintCleanEnvoy, "stat_prefix: ingress", "stat_prefx: ingress", 1),
		"gatehouse.yml": "policies: {directory: policies}\nrequests: {nonHTTP: sometimes}\nroutes:\n  - {match: {path: /x}, resource: {kind: x, attr: {t: request.body.t}}}\n",
		"bad-gh.yml":    "policies: {directory: policies}\nserver: {grpc: {adress: x}}\n",
	})
	file := func(name string) string { return filepath.Join(dir, name) }
	finding := regexp.MustCompile(`^\S+\.yaml:\d+: (error|warning|note): .+ \(static_resources\.\S+\)$`)
	for _, tc := range []struct {
		name     string
		args     []string
		code     int
		stdout   []string // substrings of stdout
		stderr   string
		findings int // lines of stdout in the file:line: severity: message (path) form
	}{
		{name: "clean", args: []string{file("clean.yaml")}, code: exitOK, stdout: []string{"1 file(s): 0 error(s), 0 warning(s), 0 note(s)", "note: no --config"}},
		{name: "warning", args: []string{file("warning.yaml")}, code: exitFailure, findings: 1,
			stdout: []string{"warning.yaml:19: warning: timeout 30s is long"}, stderr: "gatehouse: lint-envoy: 1 finding(s) at or above warning"},
		{name: "warning below --fail-on error", args: []string{"--fail-on", "error", file("warning.yaml")}, code: exitOK, findings: 1},
		{name: "error", args: []string{"--fail-on", "error", file("error.yaml"), file("clean.yaml")}, code: exitFailure, findings: 2,
			stdout: []string{"error.yaml:17: error: failure_mode_allow: true fails open", "2 file(s): 2 error(s), 0 warning(s), 0 note(s)"}},
		{name: "with --config", args: []string{"--config", file("gatehouse.yml"), file("clean.yaml")}, code: exitFailure, findings: 1,
			stdout: []string{"warning: with_request_body is not set", "gatehouse.yml:4 routes[0].resource.attr.t"}},
		{name: "broken file", args: []string{file("broken.yaml"), file("error.yaml")}, code: exitPolicies, findings: 2,
			stderr: `broken.yaml:9: static_resources.listeners[0](ingress).filter_chains[0].filters[0](envoy.filters.network.http_connection_manager).typed_config: unknown field "stat_prefx"`},
		{name: "missing file", args: []string{file("nope.yaml")}, code: exitPolicies, stderr: "nope.yaml: no such file"},
		{name: "bad --config", args: []string{"--config", file("bad-gh.yml"), file("clean.yaml")}, code: exitPolicies, stderr: `bad-gh.yml:2: unknown key "adress"`},
		{name: "no files", args: nil, code: exitUsage, stderr: "requires at least 1 arg"},
		{name: "bad --fail-on", args: []string{"--fail-on", "note", file("clean.yaml")}, code: exitUsage, stderr: `--fail-on "note": want warning or error`},
		{name: "stdin", args: []string{"-"}, code: exitFailure, findings: 1, stdout: []string{"<stdin>:19: warning: timeout 30s"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stdin := ""
			if tc.name == "stdin" {
				stdin = strings.Replace(lintCleanEnvoy, "timeout: 1s", "timeout: 30s", 1)
			}
			code, stdout, stderr := runCLI(t, stdin, append([]string{"lint-envoy"}, tc.args...)...)
			if code != tc.code {
				t.Errorf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tc.code, stdout, stderr)
			}
			for _, want := range tc.stdout {
				if !strings.Contains(stdout, want) {
					t.Errorf("stdout does not contain %q:\n%s", want, stdout)
				}
			}
			if !strings.Contains(stderr, tc.stderr) {
				t.Errorf("stderr does not contain %q:\n%s", tc.stderr, stderr)
			}
			n := 0
			for _, line := range strings.Split(stdout, "\n") {
				if finding.MatchString(strings.ReplaceAll(line, "<stdin>", "stdin.yaml")) {
					n++
				}
			}
			if n != tc.findings {
				t.Errorf("%d finding lines, want %d:\n%s", n, tc.findings, stdout)
			}
		})
	}
}
