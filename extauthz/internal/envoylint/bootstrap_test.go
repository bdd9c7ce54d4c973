package envoylint

import (
	"strings"
	"testing"
)

// baseBootstrap is a bootstrap without findings against testGatehouse: ext_authz before
// the router, fail closed, 503 on error, a 1s timeout, V3, bodies forwarded, an HTTP/2
// cluster, only /healthz unchecked.
const baseBootstrap = `static_resources:
  listeners:
  - name: ingress
    address: {socket_address: {address: 127.0.0.1, port_value: 8080}}
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: ingress
          route_config:
            virtual_hosts:
            - name: app
              domains: ["*"]
              routes:
              - match: {path: /healthz}
                route: {cluster: app}
                typed_per_filter_config:
                  envoy.filters.http.ext_authz:
                    "@type": type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthzPerRoute
                    disabled: true
              - match: {prefix: /api}
                route: {cluster: app}
                typed_per_filter_config:
                  envoy.filters.http.ext_authz:
                    "@type": type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthzPerRoute
                    check_settings: {context_extensions: {kind: document}}
          http_filters:
          - name: envoy.filters.http.ext_authz
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthz
              transport_api_version: V3
              failure_mode_allow: false
              status_on_error: {code: ServiceUnavailable}
              with_request_body: {max_request_bytes: 8192, allow_partial_message: false, pack_as_bytes: true}
              grpc_service:
                envoy_grpc: {cluster_name: gatehouse}
                timeout: 1s
          - name: envoy.filters.http.router
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
  clusters:
  - name: gatehouse
    type: STATIC
    typed_extension_protocol_options:
      envoy.extensions.upstreams.http.v3.HttpProtocolOptions:
        "@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions
        explicit_http_config: {http2_protocol_options: {}}
    load_assignment:
      cluster_name: gatehouse
      endpoints: [{lb_endpoints: [{endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: 9191}}}}]}]
  - name: app
    type: STATIC
    load_assignment:
      cluster_name: app
      endpoints: [{lb_endpoints: [{endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: 8000}}}}]}]
`

// Paths of the base bootstrap's settings.
const (
	hcmPath   = "static_resources.listeners[0](ingress).filter_chains[0].filters[0](envoy.filters.network.http_connection_manager).typed_config"
	authzPath = hcmPath + ".http_filters[0](envoy.filters.http.ext_authz)"
	routePath = hcmPath + ".route_config.virtual_hosts[0](app).routes[1]"
)

// testGatehouse reads the body in one route and the JWT from the authorization header.
func testGatehouse() *Gatehouse {
	return &Gatehouse{
		BodyReaders:            []Ref{"gatehouse.yaml:40 routes[2].resource.attr.classification"},
		Headers:                []HeaderRef{{Header: "authorization", Ref: "gatehouse.yaml:12 identity.sources[0].jwt"}},
		MaxBodyBytes:           1 << 20,
		MaxReceiveMessageBytes: 4 << 20,
	}
}

// edit replaces text in the base bootstrap; each old string must occur.
func edit(t *testing.T, pairs ...string) string {
	t.Helper()
	s := baseBootstrap
	for i := 0; i+1 < len(pairs); i += 2 {
		if !strings.Contains(s, pairs[i]) {
			t.Fatalf("edit: %q is not in the base bootstrap", pairs[i])
		}
		s = strings.Replace(s, pairs[i], pairs[i+1], 1)
	}
	return s
}

// lineAt is the line of the last of the substrings, each searched after the previous.
func lineAt(t *testing.T, doc string, at ...string) int {
	t.Helper()
	off := 0
	for _, s := range at {
		i := strings.Index(doc[off:], s)
		if i < 0 {
			t.Fatalf("lineAt: %q not found after offset %d", s, off)
		}
		off += i
	}
	return strings.Count(doc[:off], "\n") + 1
}

// finding is what one case expects.
type finding struct {
	sev  Severity
	at   []string // lineAt arguments
	path string
	msg  string // a substring of the message
}

type lintCase struct {
	name string
	doc  string
	gh   *Gatehouse
	want []finding
}

func runLintCases(t *testing.T, cases []lintCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Lint("test.yaml", []byte(tc.doc), tc.gh)
			if err != nil {
				t.Fatalf("Lint: %v", err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %d findings, want %d:\n%s", len(got), len(tc.want), render(got))
			}
			for i, w := range tc.want {
				g := got[i]
				if line := lineAt(t, tc.doc, w.at...); g.Line != line {
					t.Errorf("finding %d: line %d, want %d (%q): %s", i, g.Line, line, w.at, g.Message)
				}
				if g.Severity != w.sev {
					t.Errorf("finding %d: severity %v, want %v: %s", i, g.Severity, w.sev, g.Message)
				}
				if g.Path != w.path {
					t.Errorf("finding %d: path\n  %s\nwant\n  %s", i, g.Path, w.path)
				}
				if !strings.Contains(g.Message, w.msg) {
					t.Errorf("finding %d: message %q does not contain %q", i, g.Message, w.msg)
				}
			}
		})
	}
}

func render(fs []Finding) string {
	var b strings.Builder
	for _, f := range fs {
		b.WriteString("  " + f.Severity.String() + " line " + itoa(f.Line) + ": " + f.Message + " (" + f.Path + ")\n")
	}
	return b.String()
}

func itoa(i int) string {
	const digits = "0123456789"
	if i < 10 {
		return digits[i : i+1]
	}
	return itoa(i/10) + digits[i%10:i%10+1]
}

func TestLintCleanBootstrap(t *testing.T) {
	for name, gh := range map[string]*Gatehouse{"with gatehouse": testGatehouse(), "without": nil} {
		got, err := Lint("clean.yaml", []byte(baseBootstrap), gh)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 0 {
			t.Errorf("%s: want no findings, got:\n%s", name, render(got))
		}
	}
}

func TestLintExtAuthzFilter(t *testing.T) {
	ea := "- name: envoy.filters.http.ext_authz"
	runLintCases(t, []lintCase{
		{
			name: "fail open",
			doc:  edit(t, "failure_mode_allow: false", "failure_mode_allow: true"),
			want: []finding{{Error, []string{"failure_mode_allow: true"}, authzPath + ".typed_config.failure_mode_allow", "fails open"}},
		},
		{
			name: "shadow mode",
			doc:  edit(t, "failure_mode_allow: false", "shadow_mode: true"),
			want: []finding{{Error, []string{"shadow_mode: true"}, authzPath + ".typed_config.shadow_mode", "never denies"}},
		},
		{
			name: "status_on_error unset",
			doc:  edit(t, "              status_on_error: {code: ServiceUnavailable}\n", ""),
			want: []finding{{Warning, []string{ea, "typed_config:"}, authzPath + ".typed_config.status_on_error", "Envoy answers 403"}},
		},
		{
			name: "status_on_error 403",
			doc:  edit(t, "code: ServiceUnavailable", "code: Forbidden"),
			want: []finding{{Warning, []string{"status_on_error:"}, authzPath + ".typed_config.status_on_error", "status_on_error 403 hides outages"}},
		},
		{
			name: "timeout unset",
			doc:  edit(t, "                timeout: 1s\n", ""),
			want: []finding{{Warning, []string{"grpc_service:"}, authzPath + ".typed_config.grpc_service.timeout", "default for ext_authz is 200ms"}},
		},
		{
			name: "timeout zero",
			doc:  edit(t, "timeout: 1s", "timeout: 0s"),
			want: []finding{{Error, []string{"timeout: 0s"}, authzPath + ".typed_config.grpc_service.timeout", "no deadline"}},
		},
		{
			name: "timeout long",
			doc:  edit(t, "timeout: 1s", "timeout: 30s"),
			want: []finding{{Warning, []string{"timeout: 30s"}, authzPath + ".typed_config.grpc_service.timeout", "timeout 30s is long"}},
		},
		{
			name: "transport_api_version unset",
			doc:  edit(t, "              transport_api_version: V3\n", ""),
			want: []finding{{Error, []string{ea, "typed_config:"}, authzPath + ".typed_config.transport_api_version", "transport_api_version is not set"}},
		},
		{
			name: "transport_api_version V2",
			doc:  edit(t, "transport_api_version: V3", "transport_api_version: V2"),
			want: []finding{{Error, []string{"transport_api_version: V2"}, authzPath + ".typed_config.transport_api_version", "supports only V3"}},
		},
		{
			name: "http_service",
			doc: edit(t, "              grpc_service:\n                envoy_grpc: {cluster_name: gatehouse}\n                timeout: 1s\n",
				"              http_service: {server_uri: {uri: \"http://gatehouse\", cluster: gatehouse, timeout: 1s}}\n"),
			want: []finding{{Error, []string{"http_service:"}, authzPath + ".typed_config.http_service", "gRPC only"}},
		},
		{
			name: "missing cluster",
			doc:  edit(t, "cluster_name: gatehouse}", "cluster_name: authz}"),
			want: []finding{{Error, []string{"envoy_grpc:"}, authzPath + ".typed_config.grpc_service.envoy_grpc.cluster_name", `no cluster "authz"`}},
		},
		{
			name: "cluster without HTTP/2",
			doc: edit(t, "    typed_extension_protocol_options:\n      envoy.extensions.upstreams.http.v3.HttpProtocolOptions:\n        \"@type\": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions\n        explicit_http_config: {http2_protocol_options: {}}\n",
				""),
			want: []finding{{Error, []string{"  - name: gatehouse"}, "static_resources.clusters[0](gatehouse)", "speaks HTTP/1.1"}},
		},
		{
			name: "cluster with ALPN auto_config and no TLS",
			doc:  edit(t, "explicit_http_config: {http2_protocol_options: {}}", "auto_config: {http2_protocol_options: {}}"),
			want: []finding{{Error, []string{"  - name: gatehouse"}, "static_resources.clusters[0](gatehouse)", "speaks HTTP/1.1"}},
		},
		{
			name: "cluster with the deprecated http2_protocol_options",
			doc: edit(t, "    typed_extension_protocol_options:\n      envoy.extensions.upstreams.http.v3.HttpProtocolOptions:\n        \"@type\": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions\n        explicit_http_config: {http2_protocol_options: {}}\n",
				"    http2_protocol_options: {}\n"),
		},
		{
			name: "ext_authz after the router",
			doc: edit(t, "          - name: envoy.filters.http.router\n            typed_config:\n              \"@type\": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router\n", "",
				"          http_filters:\n", "          http_filters:\n          - name: envoy.filters.http.router\n            typed_config:\n              \"@type\": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router\n"),
			want: []finding{{Error, []string{ea}, hcmPath + ".http_filters[1](envoy.filters.http.ext_authz)", "after the router (http_filters[0])"}},
		},
		{
			name: "disabled filter",
			doc:  edit(t, ea+"\n", ea+"\n            disabled: true\n"),
			want: []finding{{Warning, []string{"disabled: true\n            typed_config"}, authzPath + ".disabled", "turns ext_authz off"}},
		},
		{
			name: "filter_enabled below 100%",
			doc:  edit(t, "failure_mode_allow: false", "filter_enabled: {default_value: {numerator: 50}}"),
			want: []finding{{Warning, []string{"filter_enabled:"}, authzPath + ".typed_config.filter_enabled", "only 50% of requests"}},
		},
		{
			name: "filter_enabled below 100% with deny_at_disable",
			doc:  edit(t, "failure_mode_allow: false", "filter_enabled: {default_value: {numerator: 50}}\n              deny_at_disable: {default_value: true, runtime_key: authz.deny}"),
		},
		{
			name: "filter_enabled runtime key",
			doc:  edit(t, "failure_mode_allow: false", "filter_enabled:\n                default_value: {numerator: 100}\n                runtime_key: authz.enabled"),
			want: []finding{{Note, []string{"runtime_key: authz.enabled"}, authzPath + ".typed_config.filter_enabled.runtime_key", `runtime key "authz.enabled"`}},
		},
		{
			name: "filter_enabled_metadata",
			doc:  edit(t, "failure_mode_allow: false", "filter_enabled_metadata: {filter: envoy.filters.http.rbac, path: [{key: shadow}], value: {string_match: {prefix: x}}}"),
			want: []finding{{Warning, []string{"filter_enabled_metadata:"}, authzPath + ".typed_config.filter_enabled_metadata", "does not match are not checked"}},
		},
		{
			name: "Envoy's own validation",
			doc:  edit(t, "code: ServiceUnavailable", "code: 999"),
			want: []finding{{Error, []string{ea, "typed_config:"}, authzPath + ".typed_config", "Envoy rejects this ext_authz configuration"}},
		},
	})
}

func TestLintListenersAndRoutes(t *testing.T) {
	runLintCases(t, []lintCase{
		{
			name: "no ext_authz filter",
			doc: edit(t, "          - name: envoy.filters.http.ext_authz\n            typed_config:\n              \"@type\": type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthz\n              transport_api_version: V3\n              failure_mode_allow: false\n              status_on_error: {code: ServiceUnavailable}\n              with_request_body: {max_request_bytes: 8192, allow_partial_message: false, pack_as_bytes: true}\n              grpc_service:\n                envoy_grpc: {cluster_name: gatehouse}\n                timeout: 1s\n",
				""),
			want: []finding{{Warning, []string{"http_filters:"}, hcmPath + ".http_filters", "this listener is not protected"}},
		},
		{
			name: "route disabled",
			doc:  edit(t, "check_settings: {context_extensions: {kind: document}}", "disabled: true"),
			want: []finding{{Warning, []string{"match: {prefix: /api}", "disabled: true"}, routePath + ".typed_per_filter_config[envoy.filters.http.ext_authz].disabled", `route prefix "/api"`}},
		},
		{
			name: "named route disabled through FilterConfig",
			doc: edit(t, "              - match: {prefix: /api}\n", "              - name: api\n                match: {prefix: /api}\n",
				"\"@type\": type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthzPerRoute\n                    check_settings: {context_extensions: {kind: document}}",
				"\"@type\": type.googleapis.com/envoy.config.route.v3.FilterConfig\n                    disabled: true"),
			want: []finding{{Warning, []string{"name: api", "disabled: true"}, hcmPath + ".route_config.virtual_hosts[0](app).routes[1](api).typed_per_filter_config[envoy.filters.http.ext_authz].disabled", `route "api" (prefix "/api")`}},
		},
		{
			name: "disabled route answered by Envoy",
			doc:  edit(t, "route: {cluster: app}\n                typed_per_filter_config:\n                  envoy.filters.http.ext_authz:\n                    \"@type\": type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthzPerRoute\n                    check_settings: {context_extensions: {kind: document}}", "direct_response: {status: 404}\n                typed_per_filter_config:\n                  envoy.filters.http.ext_authz:\n                    \"@type\": type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthzPerRoute\n                    disabled: true"),
		},
		{
			name: "virtual host disabled",
			doc:  edit(t, "              domains: [\"*\"]\n", "              domains: [\"*\"]\n              typed_per_filter_config:\n                envoy.filters.http.ext_authz:\n                  \"@type\": type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthzPerRoute\n                  disabled: true\n"),
			want: []finding{{Warning, []string{"domains:", "disabled: true"}, hcmPath + ".route_config.virtual_hosts[0](app).typed_per_filter_config[envoy.filters.http.ext_authz].disabled", `whole virtual host "app"`}},
		},
		{
			name: "route stops body buffering",
			doc:  edit(t, "check_settings: {context_extensions: {kind: document}}", "check_settings: {disable_request_body_buffering: true}"),
			gh:   testGatehouse(),
			want: []finding{{Warning, []string{"disable_request_body_buffering"}, routePath + ".typed_per_filter_config[envoy.filters.http.ext_authz].check_settings.disable_request_body_buffering", "routes[2].resource.attr.classification"}},
		},
		{
			name: "route overrides the service with a bad timeout",
			doc:  edit(t, "check_settings: {context_extensions: {kind: document}}", "check_settings: {grpc_service: {envoy_grpc: {cluster_name: gatehouse}, timeout: 0s}}"),
			want: []finding{{Error, []string{"check_settings: {grpc"}, routePath + ".typed_per_filter_config[envoy.filters.http.ext_authz].check_settings.grpc_service.timeout", "no deadline"}},
		},
		{
			name: "routes from RDS",
			doc: strings.Replace(baseBootstrap, baseBootstrap[strings.Index(baseBootstrap, "          route_config:"):strings.Index(baseBootstrap, "          http_filters:")],
				"          rds: {route_config_name: local, config_source: {ads: {}}}\n", 1),
			want: []finding{{Note, []string{"rds:"}, hcmPath + ".rds", `RDS (route_config_name "local")`}},
		},
		{
			name: "websocket upgrades skip ext_authz",
			doc:  edit(t, "          stat_prefix: ingress\n", "          stat_prefix: ingress\n          upgrade_configs:\n          - upgrade_type: websocket\n            filters:\n            - name: envoy.filters.http.router\n              typed_config: {\"@type\": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router}\n"),
			want: []finding{{Warning, []string{"upgrade_configs:", "filters:"}, hcmPath + ".upgrade_configs[0].filters", "websocket upgrades"}},
		},
		{
			name: "unknown HTTP filter type",
			doc:  edit(t, "          http_filters:\n", "          http_filters:\n          - name: istio.stats\n            typed_config: {\"@type\": type.googleapis.com/stats.PluginConfig, debug: true}\n"),
			want: []finding{{Warning, []string{"name: istio.stats", "typed_config"}, hcmPath + ".http_filters[0](istio.stats).typed_config", "type type.googleapis.com/stats.PluginConfig is unknown"}},
		},
		{
			name: "unknown type outside the filters",
			doc:  edit(t, "          stat_prefix: ingress\n", "          stat_prefix: ingress\n          access_log:\n          - name: acme\n            typed_config: {\"@type\": type.googleapis.com/acme.Logger}\n"),
			want: []finding{{Note, []string{"name: acme", "typed_config"}, hcmPath + ".access_log[0](acme).typed_config", "acme.Logger is unknown"}},
		},
	})
}
