package extauthz

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// lintBootstrap is an Envoy bootstrap whose ext_authz filter forwards no body, lists no
// metadata namespace and sends only x- headers.
const lintBootstrap = `static_resources:
  listeners:
  - name: ingress
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: ingress
          rds: {route_config_name: local, config_source: {ads: {}}}
          http_filters:
          - name: envoy.filters.http.ext_authz
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthz
              transport_api_version: V3
              status_on_error: {code: ServiceUnavailable}
              allowed_headers: {patterns: [{prefix: x-}]}
              grpc_service: {google_grpc: {target_uri: "gatehouse:9191", stat_prefix: authz}, timeout: 1s}
          - name: envoy.filters.http.router
            typed_config: {"@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router}
`

const lintGatehouse = `policies:
  directory: policies
identity:
  sources:
    - jwt:
        header: X-Token
        jwks: {file: jwks.json}
        principal: {roles: claims.roles}
    - jwtAuthn:
        principal: {roles: claims.groups}
    - headers:
        trustedPeers: ["spiffe://cluster.local/ns/edge/sa/gateway"]
        idHeader: X-User
        rolesHeader: Roles
routes:
  - match: {path: /api/documents}
    resource:
      kind: document
      attr:
        title: request.body.title
`

// LintEnvoy reads what gatehouse's configuration needs and names its lines.
func TestLintEnvoyAgainstConfig(t *testing.T) {
	cfg, err := ParseConfig("gh.yaml", []byte(lintGatehouse))
	if err != nil {
		t.Fatal(err)
	}
	fs, err := LintEnvoy("envoy.yaml", []byte(lintBootstrap), cfg)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range fs {
		got = append(got, f.String())
	}
	text := strings.Join(got, "\n")
	for _, want := range []string{
		`envoy.yaml:10: note: routes come from RDS`,
		`envoy.yaml:13: warning: with_request_body is not set, but gatehouse expressions read request.body (gh.yaml:20 routes[0].resource.attr.title)`,
		`envoy.yaml:17: warning: allowed_headers does not include "roles", which gatehouse reads (gh.yaml:11 identity.sources[2].headers)`,
		`envoy.yaml:13: warning: metadata_context_namespaces does not list "envoy.filters.http.jwt_authn": gatehouse's jwtAuthn source (gh.yaml:9 identity.sources[1].jwtAuthn)`,
		`typed_config.http_filters[0](envoy.filters.http.ext_authz).typed_config.with_request_body)`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("missing %q in:\n%s", want, text)
		}
	}
	for _, unwanted := range []string{`"x-token"`, `"x-user"`} {
		if strings.Contains(text, unwanted) {
			t.Errorf("%s is allowed, yet reported:\n%s", unwanted, text)
		}
	}
	// Without gatehouse's configuration only the proxy's own settings are checked.
	fs, err = LintEnvoy("envoy.yaml", []byte(lintBootstrap), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(fs) != 1 || fs[0].Severity != SeverityNote {
		t.Errorf("without a configuration, want only the RDS note, got %v", fs)
	}
}

func TestFindingString(t *testing.T) {
	for _, tc := range []struct {
		f    Finding
		want string
	}{
		{Finding{File: "e.yaml", Line: 3, Severity: SeverityError, Path: "a.b", Message: "m"}, "e.yaml:3: error: m (a.b)"},
		{Finding{File: "e.yaml", Severity: SeverityNote, Message: "m"}, "e.yaml: note: m"},
	} {
		if got := tc.f.String(); got != tc.want {
			t.Errorf("got %q, want %q", got, tc.want)
		}
	}
	if s, err := ParseSeverity("Warning"); err != nil || s != SeverityWarning {
		t.Errorf("ParseSeverity(Warning) = %v, %v", s, err)
	}
	if _, err := ParseSeverity("fatal"); err == nil {
		t.Error("ParseSeverity(fatal) succeeded")
	}
}

// The repository's own proxy configurations lint clean against the gatehouse
// configurations they call.
func TestRepositoryEnvoyConfigsLintClean(t *testing.T) {
	for _, tc := range []struct{ proxy, gatehouse string }{
		{"../envoy/local/envoy.yaml", "../envoy/demo/gatehouse.yaml"},
		{"../envoy/compose/envoy.yaml", "../envoy/demo/gatehouse.yaml"},
		{"../envoy/istio/mesh-config.yaml", "../envoy/istio/gatehouse.yaml"},
	} {
		t.Run(filepath.Base(filepath.Dir(tc.proxy)), func(t *testing.T) {
			data, err := os.ReadFile(tc.proxy)
			if err != nil {
				t.Fatal(err)
			}
			cfg, err := LoadConfig(tc.gatehouse)
			if err != nil {
				t.Fatal(err)
			}
			fs, err := LintEnvoy(tc.proxy, data, cfg)
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range fs {
				t.Errorf("%s", f)
			}
		})
	}
}
