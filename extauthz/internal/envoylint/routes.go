package envoylint

import (
	"fmt"
	"strings"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	extauthzv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_authz/v3"
	"google.golang.org/protobuf/types/known/anypb"
)

// healthPaths are the exact paths on which turning ext_authz off is expected: probes of
// the app's liveness and readiness.
var healthPaths = map[string]bool{
	"/healthz": true, "/readyz": true, "/livez": true, "/health": true, "/ready": true, "/ping": true,
}

// HealthPaths lists the paths on which a disabled ext_authz is not reported.
func HealthPaths() []string { return sortedKeys(healthPaths) }

// routeConfig checks the per-route ext_authz settings of an inline route configuration.
func (l *envoyLinter) routeConfig(rc *routev3.RouteConfiguration, p path, authz []authzFilter) {
	names := map[string]authzFilter{}
	for _, a := range authz {
		names[a.name] = a
	}
	for i, vh := range rc.GetVirtualHosts() {
		vp := p.field("virtual_hosts").index(i).named(vh.GetName())
		l.perFilter(vh.GetTypedPerFilterConfig(), vp.field("typed_per_filter_config"), names,
			fmt.Sprintf("virtual host %q (domains %s)", vh.GetName(), strings.Join(vh.GetDomains(), ", ")), nil)
		for j, r := range vh.GetRoutes() {
			rp := vp.field("routes").index(j).named(r.GetName())
			what := "route " + describeMatch(r.GetMatch())
			if r.GetName() != "" {
				what = fmt.Sprintf("route %q (%s)", r.GetName(), describeMatch(r.GetMatch()))
			}
			l.perFilter(r.GetTypedPerFilterConfig(), rp.field("typed_per_filter_config"), names, what, r)
			for k, wc := range r.GetRoute().GetWeightedClusters().GetClusters() {
				wp := rp.field("route").field("weighted_clusters").field("clusters").index(k).named(wc.GetName())
				l.perFilter(wc.GetTypedPerFilterConfig(), wp.field("typed_per_filter_config"), names,
					fmt.Sprintf("weighted cluster %q of %s", wc.GetName(), what), r)
			}
		}
	}
}

// perFilter checks the ext_authz entries of a typed_per_filter_config; route is nil for a
// virtual host.
func (l *envoyLinter) perFilter(cfg map[string]*anypb.Any, p path, filters map[string]authzFilter, what string, route *routev3.Route) {
	for _, name := range sortedKeys(cfg) {
		if _, ok := filters[name]; !ok {
			continue
		}
		ep := p.mapKey(name)
		var per *extauthzv3.ExtAuthzPerRoute
		disabled := false
		switch m := unpack(cfg[name]).(type) {
		case *extauthzv3.ExtAuthzPerRoute:
			per = m
			disabled = m.GetDisabled()
		case *routev3.FilterConfig:
			disabled = m.GetDisabled()
			per, _ = unpack(m.GetConfig()).(*extauthzv3.ExtAuthzPerRoute)
			disabled = disabled || per.GetDisabled()
		}
		if disabled {
			l.disabled(ep, what, route)
		}
		cs := per.GetCheckSettings()
		if cs == nil {
			continue
		}
		csp := ep.field("check_settings")
		if cs.GetDisableRequestBodyBuffering() && l.gh != nil && len(l.gh.BodyReaders) > 0 {
			l.add(Warning, csp.field("disable_request_body_buffering"), "disable_request_body_buffering on %s: gatehouse expressions that read request.body (%s) see null for these requests", what, refs(l.gh.BodyReaders))
		}
		if cs.GetWithRequestBody() != nil {
			l.bodySettings(cs.GetWithRequestBody(), csp.field("with_request_body"), what)
		}
		if s := cs.GetGrpcService(); s != nil {
			l.grpcService(s, csp.field("grpc_service"))
		}
		if cs.GetHttpService() != nil {
			l.add(Error, csp.field("http_service"), "gatehouse serves ext_authz over gRPC only (it has no HTTP authorization mode yet): use grpc_service")
		}
	}
}

// disabled reports a route or virtual host that turns ext_authz off, unless it is a
// health-check path or Envoy answers it itself.
func (l *envoyLinter) disabled(p path, what string, route *routev3.Route) {
	if route == nil {
		l.add(Warning, p.field("disabled"), "ext_authz is disabled for the whole %s: its requests reach the app unchecked unless a route turns the check back on", what)
		return
	}
	if route.GetDirectResponse() != nil || route.GetRedirect() != nil {
		return // Envoy answers these itself; nothing reaches the app
	}
	if m := route.GetMatch(); m.GetPath() != "" && healthPaths[m.GetPath()] {
		return
	}
	l.add(Warning, p.field("disabled"), "ext_authz is disabled for %s: matching requests reach the app unchecked; only exact health-check paths (%s) should skip the check", what, strings.Join(HealthPaths(), ", "))
}

// describeMatch renders a route match for messages: path "/healthz", prefix "/api".
func describeMatch(m *routev3.RouteMatch) string {
	var s string
	switch ps := m.GetPathSpecifier().(type) {
	case *routev3.RouteMatch_Path:
		s = fmt.Sprintf("path %q", ps.Path)
	case *routev3.RouteMatch_Prefix:
		s = fmt.Sprintf("prefix %q", ps.Prefix)
	case *routev3.RouteMatch_PathSeparatedPrefix:
		s = fmt.Sprintf("path_separated_prefix %q", ps.PathSeparatedPrefix)
	case *routev3.RouteMatch_SafeRegex:
		s = fmt.Sprintf("safe_regex %q", ps.SafeRegex.GetRegex())
	case *routev3.RouteMatch_ConnectMatcher_:
		s = "connect_matcher"
	case *routev3.RouteMatch_PathMatchPolicy:
		s = "path_match_policy"
	default:
		s = "(no path match)"
	}
	if n := len(m.GetHeaders()); n > 0 {
		s += fmt.Sprintf(" with %d header matcher(s)", n)
	}
	return s
}
