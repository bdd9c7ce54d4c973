package envoylint

import (
	"fmt"
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"
)

// healthPaths are the exact paths on which turning ext_authz off is expected: probes of
// the app's liveness and readiness.
var healthPaths = map[string]bool{
	"/healthz": true, "/readyz": true, "/livez": true, "/health": true, "/ready": true, "/ping": true,
}

// HealthPaths lists the paths on which a disabled ext_authz is not reported.
func HealthPaths() []string { return sortedKeys(healthPaths) }

// routeConfig checks the per-route ext_authz settings of an inline route configuration.
// (rc is an envoy.config.route.v3.RouteConfiguration.)
func (l *envoyLinter) routeConfig(rc protoreflect.Message, p path, authz []authzFilter) {
	names := map[string]authzFilter{}
	for _, a := range authz {
		names[a.name] = a
	}
	for i, vh := range list(rc, "virtual_hosts") {
		vp := p.field("virtual_hosts").index(i).named(str(vh, "name"))
		l.perFilter(messageMap(vh, "typed_per_filter_config"), vp.field("typed_per_filter_config"), names,
			fmt.Sprintf("virtual host %q (domains %s)", str(vh, "name"), strings.Join(strs(vh, "domains"), ", ")), nil)
		for j, r := range list(vh, "routes") {
			name := str(r, "name")
			rp := vp.field("routes").index(j).named(name)
			what := "route " + describeMatch(sub(r, "match"))
			if name != "" {
				what = fmt.Sprintf("route %q (%s)", name, describeMatch(sub(r, "match")))
			}
			l.perFilter(messageMap(r, "typed_per_filter_config"), rp.field("typed_per_filter_config"), names, what, r)
			for k, wc := range list(sub(sub(r, "route"), "weighted_clusters"), "clusters") {
				wp := rp.field("route").field("weighted_clusters").field("clusters").index(k).named(str(wc, "name"))
				l.perFilter(messageMap(wc, "typed_per_filter_config"), wp.field("typed_per_filter_config"), names,
					fmt.Sprintf("weighted cluster %q of %s", str(wc, "name"), what), r)
			}
		}
	}
}

// perFilter checks the ext_authz entries of a typed_per_filter_config; route (an
// envoy.config.route.v3.Route) is nil for a virtual host.
func (l *envoyLinter) perFilter(cfg map[string]protoreflect.Message, p path, filters map[string]authzFilter, what string, route protoreflect.Message) {
	for _, name := range sortedKeys(cfg) {
		if _, ok := filters[name]; !ok {
			continue
		}
		ep := p.mapKey(name)
		var per protoreflect.Message // an ExtAuthzPerRoute
		disabled := false
		switch m := unpack(cfg[name]); {
		case is(m, extAuthzPerRouteMsg):
			per = m
			disabled = flag(m, "disabled")
		case is(m, filterConfigMsg):
			disabled = flag(m, "disabled")
			if inner := unpack(sub(m, "config")); is(inner, extAuthzPerRouteMsg) {
				per = inner
				disabled = disabled || flag(inner, "disabled")
			}
		}
		if disabled {
			l.disabled(ep, what, route)
		}
		if per == nil || !has(per, "check_settings") {
			continue
		}
		cs := sub(per, "check_settings")
		csp := ep.field("check_settings")
		if flag(cs, "disable_request_body_buffering") && l.gh != nil && len(l.gh.BodyReaders) > 0 {
			l.add(Warning, csp.field("disable_request_body_buffering"), "disable_request_body_buffering on %s: gatehouse expressions that read request.body (%s) see null for these requests", what, refs(l.gh.BodyReaders))
		}
		if has(cs, "with_request_body") {
			l.bodySettings(cs, csp.field("with_request_body"), what)
		}
		if has(cs, "grpc_service") {
			l.grpcService(sub(cs, "grpc_service"), csp.field("grpc_service"))
		}
		if has(cs, "http_service") {
			l.add(Error, csp.field("http_service"), "gatehouse serves ext_authz over gRPC only (it has no HTTP authorization mode yet): use grpc_service")
		}
	}
}

// disabled reports a route or virtual host that turns ext_authz off, unless it is a
// health-check path or Envoy answers it itself.
func (l *envoyLinter) disabled(p path, what string, route protoreflect.Message) {
	if route == nil {
		l.add(Warning, p.field("disabled"), "ext_authz is disabled for the whole %s: its requests reach the app unchecked unless a route turns the check back on", what)
		return
	}
	if has(route, "direct_response") || has(route, "redirect") {
		return // Envoy answers these itself; nothing reaches the app
	}
	if m := sub(route, "match"); str(m, "path") != "" && healthPaths[str(m, "path")] {
		return
	}
	l.add(Warning, p.field("disabled"), "ext_authz is disabled for %s: matching requests reach the app unchecked; only exact health-check paths (%s) should skip the check", what, strings.Join(HealthPaths(), ", "))
}

// describeMatch renders a route match (an envoy.config.route.v3.RouteMatch) for messages:
// path "/healthz", prefix "/api".
func describeMatch(m protoreflect.Message) string {
	var s string
	switch ps := which(m, "path_specifier"); ps {
	case "path", "prefix", "path_separated_prefix":
		s = fmt.Sprintf("%s %q", ps, str(m, ps))
	case "safe_regex":
		s = fmt.Sprintf("safe_regex %q", str(sub(m, "safe_regex"), "regex"))
	case "connect_matcher", "path_match_policy":
		s = string(ps)
	default:
		s = "(no path match)"
	}
	if n := len(list(m, "headers")); n > 0 {
		s += fmt.Sprintf(" with %d header matcher(s)", n)
	}
	return s
}
