package envoylint

import "testing"

// The checks that compare the proxy with gatehouse's configuration.
func TestLintAgainstGatehouse(t *testing.T) {
	ea := "- name: envoy.filters.http.ext_authz"
	noReaders := testGatehouse()
	noReaders.BodyReaders = nil
	bigBodies := testGatehouse()
	bigBodies.MaxBodyBytes = 16 << 20
	jwtAuthn := testGatehouse()
	jwtAuthn.JWTAuthn = []NamespaceRef{{Namespace: jwtAuthnNamespace, Ref: "gatehouse.yaml:20 identity.sources[1].jwtAuthn"}}
	jwtFilter := "          - name: envoy.filters.http.jwt_authn\n            typed_config: {\"@type\": type.googleapis.com/envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication}\n"
	withBody := "              with_request_body: {max_request_bytes: 8192, allow_partial_message: false, pack_as_bytes: true}\n"
	runLintCases(t, []lintCase{
		{
			name: "body read but not forwarded",
			doc:  edit(t, withBody, ""),
			gh:   testGatehouse(),
			want: []finding{{Warning, []string{ea, "typed_config:"}, authzPath + ".typed_config.with_request_body", "gatehouse.yaml:40 routes[2].resource.attr.classification"}},
		},
		{
			name: "body not read and not forwarded",
			doc:  edit(t, withBody, ""),
			gh:   noReaders,
		},
		{
			name: "body forwarded but not read",
			doc:  baseBootstrap,
			gh:   noReaders,
			want: []finding{{Note, []string{"with_request_body:"}, authzPath + ".typed_config.with_request_body", "for nothing"}},
		},
		{
			name: "partial bodies",
			doc:  edit(t, "allow_partial_message: false", "allow_partial_message: true"),
			gh:   testGatehouse(),
			want: []finding{{Warning, []string{"with_request_body:"}, authzPath + ".typed_config.with_request_body.allow_partial_message", "does not parse partial JSON"}},
		},
		{
			name: "bodies larger than gatehouse parses",
			doc:  edit(t, "max_request_bytes: 8192", "max_request_bytes: 2097152"),
			gh:   testGatehouse(),
			want: []finding{{Warning, []string{"with_request_body:"}, authzPath + ".typed_config.with_request_body.max_request_bytes", "gatehouse parses at most 1048576"}},
		},
		{
			name: "bodies larger than gatehouse's message limit",
			doc:  edit(t, "max_request_bytes: 8192", "max_request_bytes: 4194304"),
			gh:   bigBodies,
			want: []finding{{Warning, []string{"with_request_body:"}, authzPath + ".typed_config.with_request_body.max_request_bytes", "server.grpc.maxReceiveMessageBytes"}},
		},
		{
			name: "jwtAuthn without the metadata namespace",
			doc:  edit(t, "          http_filters:\n", "          http_filters:\n"+jwtFilter),
			gh:   jwtAuthn,
			want: []finding{{Warning, []string{ea, "typed_config:"}, hcmPath + ".http_filters[1](envoy.filters.http.ext_authz).typed_config.metadata_context_namespaces", `does not list "envoy.filters.http.jwt_authn"`}},
		},
		{
			name: "jwtAuthn without the jwt_authn filter",
			doc:  edit(t, "failure_mode_allow: false", "metadata_context_namespaces: [envoy.filters.http.jwt_authn]"),
			gh:   jwtAuthn,
			want: []finding{{Warning, []string{ea, "typed_config:"}, authzPath + ".typed_config", "no jwt_authn filter runs before"}},
		},
		{
			name: "jwtAuthn handed over",
			doc:  edit(t, "          http_filters:\n", "          http_filters:\n"+jwtFilter, "failure_mode_allow: false", "metadata_context_namespaces: [envoy.filters.http.jwt_authn]"),
			gh:   jwtAuthn,
		},
		{
			name: "allowed_headers without the token header",
			doc:  edit(t, "failure_mode_allow: false", "allowed_headers: {patterns: [{prefix: x-}, {exact: cookie}]}"),
			gh:   testGatehouse(),
			want: []finding{{Warning, []string{"allowed_headers:"}, authzPath + ".typed_config.allowed_headers", `does not include "authorization"`}},
		},
		{
			name: "allowed_headers with the token header",
			doc:  edit(t, "failure_mode_allow: false", "allowed_headers: {patterns: [{safe_regex: {regex: \"AUTH.*\"}}, {exact: AUTHORIZATION, ignore_case: true}]}"),
			gh:   testGatehouse(),
		},
		{
			name: "disallowed_headers with the token header",
			doc:  edit(t, "failure_mode_allow: false", "disallowed_headers: {patterns: [{suffix: ization}]}"),
			gh:   testGatehouse(),
			want: []finding{{Warning, []string{"disallowed_headers:"}, authzPath + ".typed_config.disallowed_headers", `removes "authorization"`}},
		},
	})
}

const networkBootstrap = `static_resources:
  listeners:
  - name: tcp
    address: {socket_address: {address: 127.0.0.1, port_value: 5432}}
    filter_chains:
    - filters:
      - name: envoy.filters.network.ext_authz
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.ext_authz.v3.ExtAuthz
          stat_prefix: tcp
          transport_api_version: V3
          failure_mode_allow: true
          grpc_service: {envoy_grpc: {cluster_name: gatehouse}, timeout: 1s}
      - name: envoy.filters.network.tcp_proxy
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy
          stat_prefix: db
          cluster: gatehouse
  clusters:
  - name: gatehouse
    type: STATIC
    http2_protocol_options: {}
    load_assignment:
      cluster_name: gatehouse
      endpoints: [{lb_endpoints: [{endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: 9191}}}}]}]
`

func TestLintNetworkFilter(t *testing.T) {
	p := "static_resources.listeners[0](tcp).filter_chains[0].filters[0](envoy.filters.network.ext_authz).typed_config"
	allow := testGatehouse()
	allow.NonHTTPAllow = true
	runLintCases(t, []lintCase{
		{
			name: "fail open",
			doc:  networkBootstrap,
			gh:   allow,
			want: []finding{{Error, []string{"failure_mode_allow: true"}, p + ".failure_mode_allow", "accepts the connection unchecked"}},
		},
		{
			name: "gatehouse denies non-HTTP checks",
			doc:  networkBootstrap,
			gh:   testGatehouse(),
			want: []finding{
				{Error, []string{"- name: envoy.filters.network.ext_authz", "typed_config:"}, p, "requests.nonHTTP, which is deny"},
				{Error, []string{"failure_mode_allow: true"}, p + ".failure_mode_allow", "fails open"},
			},
		},
	})
}
