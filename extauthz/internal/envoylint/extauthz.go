package envoylint

import (
	"regexp"
	"slices"
	"strings"
	"time"

	"google.golang.org/protobuf/reflect/protoreflect"
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
func (l *envoyLinter) httpExtAuthz(c protoreflect.Message, p path, index, jwtAuthn int) {
	if err := validateAll(c); err != nil {
		l.add(Error, p, "Envoy rejects this ext_authz configuration: %v", err)
	}
	if flag(c, "failure_mode_allow") {
		l.add(Error, p.field("failure_mode_allow"), "failure_mode_allow: true fails open: when gatehouse is unreachable, times out or fails, Envoy lets the request through unchecked; set it to false")
	}
	if flag(c, "shadow_mode") {
		l.add(Error, p.field("shadow_mode"), "shadow_mode: true never denies: gatehouse's decisions are only recorded in filter state; remove it to enforce them")
	}
	l.statusOnError(sub(c, "status_on_error"), p.field("status_on_error"))
	switch {
	case has(c, "grpc_service"):
		l.grpcService(sub(c, "grpc_service"), p.field("grpc_service"))
		l.transportVersion(c, p.field("transport_api_version"))
	case has(c, "http_service"):
		l.add(Error, p.field("http_service"), "gatehouse serves ext_authz over gRPC only (it has no HTTP authorization mode yet): use grpc_service with an envoy_grpc cluster")
	default:
		l.add(Error, p.field("grpc_service"), "no grpc_service: the filter has no authorization service to call")
	}
	l.filterEnabled(c, p)
	l.bodySettings(c, p.field("with_request_body"), "")
	l.headers(c, p)
	l.jwtAuthn(strs(c, "metadata_context_namespaces"), p, index, jwtAuthn)
}

// networkExtAuthz checks Envoy's network (TCP) ext_authz filter.
func (l *envoyLinter) networkExtAuthz(c protoreflect.Message, p path) {
	if err := validateAll(c); err != nil {
		l.add(Error, p, "Envoy rejects this ext_authz configuration: %v", err)
	}
	if flag(c, "failure_mode_allow") {
		l.add(Error, p.field("failure_mode_allow"), "failure_mode_allow: true fails open: when gatehouse is unreachable, times out or fails, Envoy accepts the connection unchecked; set it to false")
	}
	if flag(c, "shadow_mode") {
		l.add(Error, p.field("shadow_mode"), "shadow_mode: true never closes a connection: gatehouse's decisions are only recorded; remove it to enforce them")
	}
	if !has(c, "grpc_service") {
		l.add(Error, p.field("grpc_service"), "no grpc_service: the filter has no authorization service to call")
	} else {
		l.grpcService(sub(c, "grpc_service"), p.field("grpc_service"))
	}
	l.transportVersion(c, p.field("transport_api_version"))
	if has(c, "filter_enabled_metadata") {
		l.add(Warning, p.field("filter_enabled_metadata"), "filter_enabled_metadata: connections whose metadata does not match are accepted without a check")
	}
	if l.gh != nil && !l.gh.NonHTTPAllow {
		l.add(Error, p, "the network ext_authz filter sends checks without an HTTP request, and gatehouse answers those with requests.nonHTTP, which is deny: every connection through this filter chain is refused; set requests.nonHTTP: allow in gatehouse's configuration or remove the filter")
	}
}

// statusOnError checks an envoy.type.v3.HttpStatus (empty when unset).
func (l *envoyLinter) statusOnError(s protoreflect.Message, p path) {
	code := int(get(s, "code").Enum())
	switch {
	case code == 0:
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

// transportVersion checks the transport_api_version (an envoy.config.core.v3.ApiVersion)
// of an ext_authz filter.
func (l *envoyLinter) transportVersion(c protoreflect.Message, p path) {
	switch v := enumName(c, "transport_api_version"); v {
	case "V3":
	case "AUTO":
		l.add(Error, p, "transport_api_version is not set: Envoy rejects gRPC ext_authz configurations that do not say V3; set transport_api_version: V3")
	default:
		l.add(Error, p, "transport_api_version %s: Envoy supports only V3 (and gatehouse serves only envoy.service.auth.v3); set transport_api_version: V3", v)
	}
}

// grpcService checks the call's timeout and its cluster (an envoy.config.core.v3.GrpcService).
func (l *envoyLinter) grpcService(s protoreflect.Message, p path) {
	l.timeout(s, p.field("timeout"))
	if has(s, "envoy_grpc") {
		l.cluster(str(sub(s, "envoy_grpc"), "cluster_name"), p.field("envoy_grpc").field("cluster_name"))
	}
}

// timeout checks the timeout of a GrpcService.
func (l *envoyLinter) timeout(s protoreflect.Message, p path) {
	t, ok := duration(s, "timeout")
	switch {
	case !ok:
		l.add(Warning, p, "no timeout: Envoy's default for ext_authz is %v, short enough for slow checks to fail under load and implicit enough to be forgotten; set it explicitly (for example 1s)", envoyDefaultTimeout)
	case t <= 0:
		l.add(Error, p, "timeout %v means no deadline: when gatehouse hangs, every request hangs with it; set a timeout such as 1s", t)
	case t > maxTimeout:
		l.add(Warning, p, "timeout %v is long: when gatehouse hangs, every request waits that long before failing; gatehouse answers in milliseconds, 1s is plenty", t)
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

// http2 tells whether a cluster (an envoy.config.cluster.v3.Cluster) speaks HTTP/2.
func http2(c protoreflect.Message) h2Support {
	if has(c, "http2_protocol_options") {
		return h2Yes
	}
	opts := messageMap(c, "typed_extension_protocol_options")
	for _, k := range sortedKeys(opts) {
		o := unpack(opts[k])
		if !is(o, httpProtocolOptionsMsg) {
			continue
		}
		explicit := sub(o, "explicit_http_config")
		switch {
		case has(explicit, "http2_protocol_options"), has(explicit, "http3_protocol_options"):
			return h2Yes
		case has(o, "auto_config"):
			if has(c, "transport_socket") {
				return h2Auto
			}
			return h2No
		case has(o, "use_downstream_protocol_config"):
			return h2Downstream
		}
	}
	if enumName(c, "protocol_selection") == "USE_DOWNSTREAM_PROTOCOL" {
		return h2Downstream
	}
	return h2No
}

// filterEnabled reports settings that let requests skip the check.
func (l *envoyLinter) filterEnabled(c protoreflect.Message, p path) {
	// deny_at_disable is a RuntimeFeatureFlag: a BoolValue default_value.
	if flag(sub(sub(c, "deny_at_disable"), "default_value"), "value") {
		return
	}
	if has(c, "filter_enabled") { // a RuntimeFractionalPercent
		fe := sub(c, "filter_enabled")
		pct := percent(fe)
		switch {
		case pct < 100:
			l.add(Warning, p.field("filter_enabled"), "filter_enabled checks only %.4g%% of requests: the others reach the app unchecked (deny_at_disable would deny them instead)", pct)
		case str(fe, "runtime_key") != "":
			l.add(Note, p.field("filter_enabled").field("runtime_key"), "runtime key %q can lower the share of checked requests at run time; the others would reach the app unchecked", str(fe, "runtime_key"))
		}
	}
	if has(c, "filter_enabled_metadata") {
		l.add(Warning, p.field("filter_enabled_metadata"), "filter_enabled_metadata: requests whose dynamic metadata does not match are not checked; make sure every request that needs a decision matches (or set deny_at_disable)")
	}
}

// percent reads the default_value (an envoy.type.v3.FractionalPercent) of a
// RuntimeFractionalPercent.
func percent(fe protoreflect.Message) float64 {
	if !has(fe, "default_value") {
		return 0 // Envoy requires default_value; without one nothing is checked
	}
	f := sub(fe, "default_value")
	var den float64
	switch enumName(f, "denominator") {
	case "HUNDRED":
		den = 100
	case "TEN_THOUSAND":
		den = 10_000
	case "MILLION":
		den = 1_000_000
	default:
		return 0
	}
	return float64(unsigned(f, "numerator")) * 100 / den
}

// bodySettings compares the buffering of request bodies (the with_request_body
// BufferSettings of m, an ExtAuthz or per-route CheckSettings) with gatehouse's
// expressions; where names the route of a per-route setting ("" for the filter).
func (l *envoyLinter) bodySettings(m protoreflect.Message, p path, where string) {
	if l.gh == nil {
		return
	}
	readers := l.gh.BodyReaders
	set := has(m, "with_request_body")
	b := sub(m, "with_request_body")
	switch {
	case !set && len(readers) > 0 && where == "":
		l.add(Warning, p, "with_request_body is not set, but gatehouse expressions read request.body (%s): they will see null; set with_request_body {max_request_bytes, allow_partial_message: false, pack_as_bytes: true}", refs(readers))
	case !set:
	case len(readers) == 0:
		if where == "" {
			l.add(Note, p, "with_request_body is set but no gatehouse expression reads request.body: Envoy buffers every body (and refuses larger ones with 413) for nothing")
		}
	default:
		if flag(b, "allow_partial_message") {
			l.add(Warning, p.field("allow_partial_message"), "allow_partial_message: true sends bodies above max_request_bytes truncated, and gatehouse does not parse partial JSON: expressions that read request.body (%s) see null for them", refs(readers))
		}
		if max := int(unsigned(b, "max_request_bytes")); l.gh.MaxBodyBytes > 0 && max > l.gh.MaxBodyBytes {
			l.add(Warning, p.field("max_request_bytes"), "Envoy forwards bodies up to %d bytes but gatehouse parses at most %d (requests.maxBodyBytes): expressions that read request.body see null for bodies in between", max, l.gh.MaxBodyBytes)
		}
	}
	if set && l.gh.MaxReceiveMessageBytes > 0 && int(unsigned(b, "max_request_bytes"))+headerAllowance > l.gh.MaxReceiveMessageBytes {
		l.add(Warning, p.field("max_request_bytes"), "bodies up to %d bytes plus headers can exceed gatehouse's %d-byte message limit (server.grpc.maxReceiveMessageBytes): such checks fail; raise the limit or lower max_request_bytes", unsigned(b, "max_request_bytes"), l.gh.MaxReceiveMessageBytes)
	}
}

// headers checks that the headers gatehouse's identity sources read are sent by an
// ExtAuthz filter c.
func (l *envoyLinter) headers(c protoreflect.Message, p path) {
	if l.gh == nil {
		return
	}
	allowed, disallowed := sub(c, "allowed_headers"), sub(c, "disallowed_headers")
	for _, h := range l.gh.Headers {
		if has(c, "allowed_headers") && !matchesAny(allowed, h.Header) {
			l.add(Warning, p.field("allowed_headers"), "allowed_headers does not include %q, which gatehouse reads (%s): that identity source never sees it", h.Header, h.Ref)
		}
		if has(c, "disallowed_headers") && matchesAny(disallowed, h.Header) {
			l.add(Warning, p.field("disallowed_headers"), "disallowed_headers removes %q, which gatehouse reads (%s): that identity source never sees it", h.Header, h.Ref)
		}
	}
}

// matchesAny reports whether an envoy.type.matcher.v3.ListStringMatcher matches s.
func matchesAny(l protoreflect.Message, s string) bool {
	for _, m := range list(l, "patterns") {
		if matches(m, s) {
			return true
		}
	}
	return false
}

// matches reports whether an envoy.type.matcher.v3.StringMatcher matches s.
func matches(m protoreflect.Message, s string) bool {
	fold := func(x string) string {
		if flag(m, "ignore_case") {
			return strings.ToLower(x)
		}
		return x
	}
	v := fold(s)
	switch which(m, "match_pattern") {
	case "exact":
		return v == fold(str(m, "exact"))
	case "prefix":
		return strings.HasPrefix(v, fold(str(m, "prefix")))
	case "suffix":
		return strings.HasSuffix(v, fold(str(m, "suffix")))
	case "contains":
		return strings.Contains(v, fold(str(m, "contains")))
	case "safe_regex":
		re, err := regexp.Compile("^(?:" + str(sub(m, "safe_regex"), "regex") + ")$")
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
