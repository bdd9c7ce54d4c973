package envoylint

import (
	"regexp"
	"slices"
	"strings"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	extauthzv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_authz/v3"
	netextauthzv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/ext_authz/v3"
	upstreamhttpv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"google.golang.org/protobuf/types/known/durationpb"
)

// Timeouts of the ext_authz call.
const (
	// envoyDefaultTimeout is what Envoy uses when grpc_service.timeout is not set.
	envoyDefaultTimeout = 200 * time.Millisecond
	// maxTimeout is the longest timeout that does not draw a warning: gatehouse answers
	// in milliseconds, and every request waits this long when it hangs.
	maxTimeout = 5 * time.Second
	// headerAllowance is what a CheckRequest carries besides the body (headers and
	// attributes), for comparing max_request_bytes with gatehouse's message limit.
	headerAllowance = 64 << 10
)

// jwtAuthnNamespace is the dynamic metadata namespace of Envoy's jwt_authn filter.
const jwtAuthnNamespace = "envoy.filters.http.jwt_authn"

// httpExtAuthz checks one ext_authz HTTP filter; index is its place in the chain and
// jwtAuthn the place of the first jwt_authn filter (-1: none before it).
func (l *envoyLinter) httpExtAuthz(c *extauthzv3.ExtAuthz, p path, index, jwtAuthn int) {
	if err := c.ValidateAll(); err != nil {
		l.add(Error, p, "Envoy rejects this ext_authz configuration: %v", err)
	}
	if c.GetFailureModeAllow() {
		l.add(Error, p.field("failure_mode_allow"), "failure_mode_allow: true fails open: when gatehouse is unreachable, times out or fails, Envoy lets the request through unchecked; set it to false")
	}
	if c.GetShadowMode() {
		l.add(Error, p.field("shadow_mode"), "shadow_mode: true never denies: gatehouse's decisions are only recorded in filter state; remove it to enforce them")
	}
	l.statusOnError(c.GetStatusOnError(), p.field("status_on_error"))
	switch {
	case c.GetGrpcService() != nil:
		l.grpcService(c.GetGrpcService(), p.field("grpc_service"))
		l.transportVersion(c.GetTransportApiVersion(), p.field("transport_api_version"))
	case c.GetHttpService() != nil:
		l.add(Error, p.field("http_service"), "gatehouse serves ext_authz over gRPC only (it has no HTTP authorization mode yet): use grpc_service with an envoy_grpc cluster")
	default:
		l.add(Error, p.field("grpc_service"), "no grpc_service: the filter has no authorization service to call")
	}
	l.filterEnabled(c, p)
	l.bodySettings(c.GetWithRequestBody(), p.field("with_request_body"), "")
	l.headers(c.GetAllowedHeaders(), c.GetDisallowedHeaders(), p)
	l.jwtAuthn(c.GetMetadataContextNamespaces(), p, index, jwtAuthn)
}

// networkExtAuthz checks Envoy's network (TCP) ext_authz filter.
func (l *envoyLinter) networkExtAuthz(c *netextauthzv3.ExtAuthz, p path) {
	if err := c.ValidateAll(); err != nil {
		l.add(Error, p, "Envoy rejects this ext_authz configuration: %v", err)
	}
	if c.GetFailureModeAllow() {
		l.add(Error, p.field("failure_mode_allow"), "failure_mode_allow: true fails open: when gatehouse is unreachable, times out or fails, Envoy accepts the connection unchecked; set it to false")
	}
	if c.GetShadowMode() {
		l.add(Error, p.field("shadow_mode"), "shadow_mode: true never closes a connection: gatehouse's decisions are only recorded; remove it to enforce them")
	}
	if c.GetGrpcService() == nil {
		l.add(Error, p.field("grpc_service"), "no grpc_service: the filter has no authorization service to call")
	} else {
		l.grpcService(c.GetGrpcService(), p.field("grpc_service"))
	}
	l.transportVersion(c.GetTransportApiVersion(), p.field("transport_api_version"))
	if c.GetFilterEnabledMetadata() != nil {
		l.add(Warning, p.field("filter_enabled_metadata"), "filter_enabled_metadata: connections whose metadata does not match are accepted without a check")
	}
	if l.gh != nil && !l.gh.NonHTTPAllow {
		l.add(Error, p, "the network ext_authz filter sends checks without an HTTP request, and gatehouse answers those with requests.nonHTTP, which is deny: every connection through this filter chain is refused; set requests.nonHTTP: allow in gatehouse's configuration or remove the filter")
	}
}

func (l *envoyLinter) statusOnError(s *typev3.HttpStatus, p path) {
	code := int(s.GetCode())
	switch {
	case s == nil || code == 0:
		l.add(Warning, p, "status_on_error is not set: when a check fails (gatehouse down, timeout) Envoy answers 403, so an outage looks like a denial; set status_on_error: {code: ServiceUnavailable} (503)")
	case code < 500:
		l.add(Warning, p, "status_on_error %d hides outages: a failed check looks like a %s; use 503 (ServiceUnavailable)", code, statusWords(code))
	}
}

func statusWords(code int) string {
	if code >= 400 {
		return "client error or denial"
	}
	return "success"
}

func (l *envoyLinter) transportVersion(v corev3.ApiVersion, p path) {
	switch v {
	case corev3.ApiVersion_V3:
	case corev3.ApiVersion_AUTO:
		l.add(Error, p, "transport_api_version is not set: Envoy rejects gRPC ext_authz configurations that do not say V3; set transport_api_version: V3")
	default:
		l.add(Error, p, "transport_api_version %s: Envoy supports only V3 (and gatehouse serves only envoy.service.auth.v3); set transport_api_version: V3", v)
	}
}

// grpcService checks the call's timeout and its cluster.
func (l *envoyLinter) grpcService(s *corev3.GrpcService, p path) {
	l.timeout(s.GetTimeout(), p.field("timeout"))
	if eg := s.GetEnvoyGrpc(); eg != nil {
		l.cluster(eg.GetClusterName(), p.field("envoy_grpc").field("cluster_name"))
	}
}

func (l *envoyLinter) timeout(t *durationpb.Duration, p path) {
	switch {
	case t == nil:
		l.add(Warning, p, "no timeout: Envoy's default for ext_authz is %v, short enough for slow checks to fail under load and implicit enough to be forgotten; set it explicitly (for example 1s)", envoyDefaultTimeout)
	case t.AsDuration() <= 0:
		l.add(Error, p, "timeout %v means no deadline: when gatehouse hangs, every request hangs with it; set a timeout such as 1s", t.AsDuration())
	case t.AsDuration() > maxTimeout:
		l.add(Warning, p, "timeout %v is long: when gatehouse hangs, every request waits that long before failing; gatehouse answers in milliseconds, 1s is plenty", t.AsDuration())
	}
}

// cluster checks that the gRPC cluster exists and speaks HTTP/2.
func (l *envoyLinter) cluster(name string, p path) {
	c, ok := l.clusters[name]
	if !ok {
		if l.cds {
			l.add(Note, p, "cluster %q is not a static cluster (it may come from CDS): its HTTP/2 settings are not checked", name)
		} else {
			l.add(Error, p, "there is no cluster %q in static_resources.clusters: Envoy rejects the configuration, or every check fails", name)
		}
		return
	}
	cp := l.clusterPaths[name]
	switch http2(c) {
	case h2Yes:
	case h2Auto:
		l.add(Warning, cp.field("typed_extension_protocol_options"), "cluster %q picks its protocol by ALPN (auto_config): gRPC needs HTTP/2, which only a TLS upstream can negotiate; use explicit_http_config.http2_protocol_options", name)
	case h2Downstream:
		l.add(Warning, cp, "cluster %q uses the downstream's protocol, but ext_authz calls have no downstream: gRPC needs HTTP/2; use explicit_http_config.http2_protocol_options", name)
	default:
		l.add(Error, cp, "cluster %q speaks HTTP/1.1: gRPC needs HTTP/2, so every check fails; add typed_extension_protocol_options {envoy.extensions.upstreams.http.v3.HttpProtocolOptions: {explicit_http_config: {http2_protocol_options: {}}}}", name)
	}
}

type h2Support int

const (
	h2No h2Support = iota
	h2Yes
	h2Auto
	h2Downstream
)

func http2(c *clusterv3.Cluster) h2Support {
	if c.GetHttp2ProtocolOptions() != nil {
		return h2Yes
	}
	for _, k := range sortedKeys(c.GetTypedExtensionProtocolOptions()) {
		o, ok := unpack(c.GetTypedExtensionProtocolOptions()[k]).(*upstreamhttpv3.HttpProtocolOptions)
		if !ok {
			continue
		}
		switch {
		case o.GetExplicitHttpConfig().GetHttp2ProtocolOptions() != nil, o.GetExplicitHttpConfig().GetHttp3ProtocolOptions() != nil:
			return h2Yes
		case o.GetAutoConfig() != nil:
			if c.GetTransportSocket() != nil {
				return h2Auto
			}
			return h2No
		case o.GetUseDownstreamProtocolConfig() != nil:
			return h2Downstream
		}
	}
	if c.GetProtocolSelection() == clusterv3.Cluster_USE_DOWNSTREAM_PROTOCOL {
		return h2Downstream
	}
	return h2No
}

// filterEnabled reports settings that let requests skip the check.
func (l *envoyLinter) filterEnabled(c *extauthzv3.ExtAuthz, p path) {
	deny := c.GetDenyAtDisable() != nil && c.GetDenyAtDisable().GetDefaultValue().GetValue()
	if deny {
		return
	}
	if fe := c.GetFilterEnabled(); fe != nil {
		pct := percent(fe.GetDefaultValue())
		switch {
		case pct < 100:
			l.add(Warning, p.field("filter_enabled"), "filter_enabled checks only %.4g%% of requests: the others reach the app unchecked (deny_at_disable would deny them instead)", pct)
		case fe.GetRuntimeKey() != "":
			l.add(Note, p.field("filter_enabled").field("runtime_key"), "runtime key %q can lower the share of checked requests at run time; the others would reach the app unchecked", fe.GetRuntimeKey())
		}
	}
	if c.GetFilterEnabledMetadata() != nil {
		l.add(Warning, p.field("filter_enabled_metadata"), "filter_enabled_metadata: requests whose dynamic metadata does not match are not checked; make sure every request that needs a decision matches (or set deny_at_disable)")
	}
}

func percent(f *typev3.FractionalPercent) float64 {
	if f == nil {
		return 0 // Envoy requires default_value; without one nothing is checked
	}
	den := map[typev3.FractionalPercent_DenominatorType]float64{
		typev3.FractionalPercent_HUNDRED:      100,
		typev3.FractionalPercent_TEN_THOUSAND: 10_000,
		typev3.FractionalPercent_MILLION:      1_000_000,
	}[f.GetDenominator()]
	if den == 0 {
		return 0
	}
	return float64(f.GetNumerator()) * 100 / den
}

// bodySettings compares the buffering of request bodies with gatehouse's expressions;
// where names the route of a per-route setting ("" for the filter).
func (l *envoyLinter) bodySettings(b *extauthzv3.BufferSettings, p path, where string) {
	if l.gh == nil {
		return
	}
	readers := l.gh.BodyReaders
	switch {
	case b == nil && len(readers) > 0 && where == "":
		l.add(Warning, p, "with_request_body is not set, but gatehouse expressions read request.body (%s): they will see null; set with_request_body {max_request_bytes, allow_partial_message: false, pack_as_bytes: true}", refs(readers))
	case b == nil:
	case len(readers) == 0:
		if where == "" {
			l.add(Note, p, "with_request_body is set but no gatehouse expression reads request.body: Envoy buffers every body (and refuses larger ones with 413) for nothing")
		}
	default:
		if b.GetAllowPartialMessage() {
			l.add(Warning, p.field("allow_partial_message"), "allow_partial_message: true sends bodies above max_request_bytes truncated, and gatehouse does not parse partial JSON: expressions that read request.body (%s) see null for them", refs(readers))
		}
		if max := int(b.GetMaxRequestBytes()); l.gh.MaxBodyBytes > 0 && max > l.gh.MaxBodyBytes {
			l.add(Warning, p.field("max_request_bytes"), "Envoy forwards bodies up to %d bytes but gatehouse parses at most %d (requests.maxBodyBytes): expressions that read request.body see null for bodies in between", max, l.gh.MaxBodyBytes)
		}
	}
	if b != nil && l.gh.MaxReceiveMessageBytes > 0 && int(b.GetMaxRequestBytes())+headerAllowance > l.gh.MaxReceiveMessageBytes {
		l.add(Warning, p.field("max_request_bytes"), "bodies up to %d bytes plus headers can exceed gatehouse's %d-byte message limit (server.grpc.maxReceiveMessageBytes): such checks fail; raise the limit or lower max_request_bytes", b.GetMaxRequestBytes(), l.gh.MaxReceiveMessageBytes)
	}
}

// headers checks that the headers gatehouse's identity sources read are sent.
func (l *envoyLinter) headers(allowed, disallowed *matcherv3.ListStringMatcher, p path) {
	if l.gh == nil {
		return
	}
	for _, h := range l.gh.Headers {
		if allowed != nil && !matchesAny(allowed, h.Header) {
			l.add(Warning, p.field("allowed_headers"), "allowed_headers does not include %q, which gatehouse reads (%s): that identity source never sees it", h.Header, h.Ref)
		}
		if disallowed != nil && matchesAny(disallowed, h.Header) {
			l.add(Warning, p.field("disallowed_headers"), "disallowed_headers removes %q, which gatehouse reads (%s): that identity source never sees it", h.Header, h.Ref)
		}
	}
}

func matchesAny(l *matcherv3.ListStringMatcher, s string) bool {
	for _, m := range l.GetPatterns() {
		if matches(m, s) {
			return true
		}
	}
	return false
}

func matches(m *matcherv3.StringMatcher, s string) bool {
	fold := func(x string) string {
		if m.GetIgnoreCase() {
			return strings.ToLower(x)
		}
		return x
	}
	v := fold(s)
	switch p := m.GetMatchPattern().(type) {
	case *matcherv3.StringMatcher_Exact:
		return v == fold(p.Exact)
	case *matcherv3.StringMatcher_Prefix:
		return strings.HasPrefix(v, fold(p.Prefix))
	case *matcherv3.StringMatcher_Suffix:
		return strings.HasSuffix(v, fold(p.Suffix))
	case *matcherv3.StringMatcher_Contains:
		return strings.Contains(v, fold(p.Contains))
	case *matcherv3.StringMatcher_SafeRegex:
		re, err := regexp.Compile("^(?:" + p.SafeRegex.GetRegex() + ")$")
		return err == nil && re.MatchString(s)
	}
	return true // a custom matcher: assume it matches rather than guess
}

// jwtAuthn checks the hand-off of verified claims to gatehouse's jwtAuthn sources.
func (l *envoyLinter) jwtAuthn(namespaces []string, p path, index, jwtAuthn int) {
	if l.gh == nil {
		return
	}
	for _, src := range l.gh.JWTAuthn {
		if !slices.Contains(namespaces, src.Namespace) {
			l.add(Warning, p.field("metadata_context_namespaces"), "metadata_context_namespaces does not list %q: gatehouse's jwtAuthn source (%s) never receives the verified claims", src.Namespace, src.Ref)
		}
		if src.Namespace == jwtAuthnNamespace && (jwtAuthn < 0 || jwtAuthn > index) {
			l.add(Warning, p, "no jwt_authn filter runs before this ext_authz filter: gatehouse's jwtAuthn source (%s) finds no verified claims; put jwt_authn (with payload_in_metadata) first", src.Ref)
		}
	}
}
