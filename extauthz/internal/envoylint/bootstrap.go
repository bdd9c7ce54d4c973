package envoylint

import (
	"sort"
	"strings"

	bootstrapv3 "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	extauthzv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_authz/v3"
	jwtauthnv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/jwt_authn/v3"
	routerv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	netextauthzv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/ext_authz/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/anypb"
	"gopkg.in/yaml.v3"
)

// Type URLs of the filters the checks look for.
var (
	extAuthzURL    = "type.googleapis.com/" + string((&extauthzv3.ExtAuthz{}).ProtoReflect().Descriptor().FullName())
	netExtAuthzURL = "type.googleapis.com/" + string((&netextauthzv3.ExtAuthz{}).ProtoReflect().Descriptor().FullName())
)

// envoyLinter checks one bootstrap.
type envoyLinter struct {
	reporter
	gh *Gatehouse
	// clusters are the static clusters by name, with their paths.
	clusters     map[string]*clusterv3.Cluster
	clusterPaths map[string]path
	// cds is true when clusters also come from CDS.
	cds bool
}

// lintBootstrap decodes an Envoy bootstrap and checks its ext_authz settings.
func lintBootstrap(name string, n *yaml.Node, root path, gh *Gatehouse) ([]Finding, error) {
	var b bootstrapv3.Bootstrap
	d, err := decodeMessage(name, n, &b, root)
	if err != nil {
		return nil, err
	}
	l := &envoyLinter{reporter: reporter{lines: d.lines}, gh: gh,
		clusters: map[string]*clusterv3.Cluster{}, clusterPaths: map[string]path{}}
	if root.key != "" {
		l.lines[root.key] = n.Line
	}
	for _, u := range d.unknown {
		sev := Note
		if isFilterPath(u.path.key) {
			sev = Warning
		}
		l.add(sev, u.path, "type %s is unknown to gatehouse lint-envoy: its settings are not checked (if it is an HTTP or network filter, make sure it cannot answer or re-route requests before ext_authz runs)", u.typeURL)
	}
	l.bootstrap(&b, root)
	return l.findings, nil
}

// looksLikeBootstrap reports whether one of the mapping's keys is a Bootstrap field.
func looksLikeBootstrap(n *yaml.Node) bool {
	fields := (&bootstrapv3.Bootstrap{}).ProtoReflect().Descriptor().Fields()
	for _, kv := range pairs(n) {
		if fields.ByJSONName(kv[0].Value) != nil || fields.ByName(protoreflect.Name(kv[0].Value)) != nil {
			return true
		}
	}
	return false
}

// isFilterPath reports whether a path key is a network or HTTP filter's typed_config.
func isFilterPath(key string) bool {
	list := parentKey(parentKey(key))
	return strings.HasSuffix(key, ".typed_config") &&
		(strings.HasSuffix(list, ".filters") || strings.HasSuffix(list, ".http_filters"))
}

func (l *envoyLinter) bootstrap(b *bootstrapv3.Bootstrap, root path) {
	sr := b.GetStaticResources()
	srp := root.field("static_resources")
	for i, c := range sr.GetClusters() {
		if _, dup := l.clusters[c.GetName()]; !dup {
			l.clusters[c.GetName()] = c
			l.clusterPaths[c.GetName()] = srp.field("clusters").index(i).named(c.GetName())
		}
	}
	dr := b.GetDynamicResources()
	l.cds = dr.GetCdsConfig() != nil || dr.GetCdsResourcesLocator() != ""
	if dr.GetLdsConfig() != nil || dr.GetLdsResourcesLocator() != "" {
		l.add(Note, root.field("dynamic_resources").field("lds_config"),
			"listeners also come from LDS: only the static listeners in this file are checked")
	}
	if len(sr.GetListeners()) == 0 && dr.GetLdsConfig() == nil && dr.GetLdsResourcesLocator() == "" {
		l.add(Note, srp.field("listeners"), "no listeners: nothing to check")
	}
	for i, lis := range sr.GetListeners() {
		l.listener(lis, srp.field("listeners").index(i).named(lis.GetName()))
	}
}

func (l *envoyLinter) listener(lis *listenerv3.Listener, p path) {
	for i, fc := range lis.GetFilterChains() {
		l.filterChain(fc, p.field("filter_chains").index(i).named(fc.GetName()), lis.GetName())
	}
	if fc := lis.GetDefaultFilterChain(); fc != nil {
		l.filterChain(fc, p.field("default_filter_chain"), lis.GetName())
	}
}

func (l *envoyLinter) filterChain(fc *listenerv3.FilterChain, p path, listener string) {
	for i, f := range fc.GetFilters() {
		fp := p.field("filters").index(i).named(f.GetName())
		if cd := f.GetConfigDiscovery(); cd != nil {
			for _, u := range cd.GetTypeUrls() {
				if u == netExtAuthzURL {
					l.add(Note, fp.field("config_discovery"), "the network ext_authz filter's settings come from ECDS: they are not checked")
				}
			}
			continue
		}
		switch m := unpack(f.GetTypedConfig()).(type) {
		case *hcmv3.HttpConnectionManager:
			l.hcm(m, fp.field("typed_config"), listener)
		case *netextauthzv3.ExtAuthz:
			l.networkExtAuthz(m, fp.field("typed_config"))
		}
	}
}

// authzFilter is an ext_authz HTTP filter of a connection manager.
type authzFilter struct {
	name string
	cfg  *extauthzv3.ExtAuthz
	path path
}

func (l *envoyLinter) hcm(h *hcmv3.HttpConnectionManager, p path, listener string) {
	fsp := p.field("http_filters")
	router, jwtAuthn := -1, -1
	var authz []authzFilter
	ecds := false
	for i, f := range h.GetHttpFilters() {
		fp := fsp.index(i).named(f.GetName())
		if cd := f.GetConfigDiscovery(); cd != nil {
			for _, u := range cd.GetTypeUrls() {
				if u == extAuthzURL {
					ecds = true
					l.add(Note, fp.field("config_discovery"), "this ext_authz filter's settings come from ECDS: they are not checked")
				}
			}
			continue
		}
		switch m := unpack(f.GetTypedConfig()).(type) {
		case *routerv3.Router:
			if router < 0 {
				router = i
			}
		case *jwtauthnv3.JwtAuthentication:
			if jwtAuthn < 0 {
				jwtAuthn = i
			}
		case *extauthzv3.ExtAuthz:
			authz = append(authz, authzFilter{name: f.GetName(), cfg: m, path: fp})
			if router >= 0 {
				l.add(Error, fp, "ext_authz comes after the router (http_filters[%d]), which ends the filter chain: Envoy refuses a router that is not last, and ext_authz could never run there; move it before the router", router)
			}
			if f.GetDisabled() {
				l.add(Warning, fp.field("disabled"), "disabled: true turns ext_authz off except on routes that enable it in typed_per_filter_config: every other route is unchecked")
			}
			l.httpExtAuthz(m, fp.field("typed_config"), i, jwtAuthn)
		}
	}
	if len(authz) == 0 && !ecds {
		l.add(Warning, fsp, "this listener is not protected: its HTTP connection manager (listener %q) has no ext_authz filter, so gatehouse is never asked", listener)
	}
	for i, u := range h.GetUpgradeConfigs() {
		if len(u.GetFilters()) == 0 || len(authz) == 0 {
			continue
		}
		has := false
		for _, f := range u.GetFilters() {
			_, ok := unpack(f.GetTypedConfig()).(*extauthzv3.ExtAuthz)
			has = has || ok
		}
		if !has {
			l.add(Warning, p.field("upgrade_configs").index(i).field("filters"),
				"%s upgrades use their own filter chain, which has no ext_authz filter: those requests are not checked", u.GetUpgradeType())
		}
	}
	switch rs := h.GetRouteSpecifier().(type) {
	case *hcmv3.HttpConnectionManager_RouteConfig:
		if len(authz) > 0 {
			l.routeConfig(rs.RouteConfig, p.field("route_config"), authz)
		}
	case *hcmv3.HttpConnectionManager_Rds:
		l.add(Note, p.field("rds"), "routes come from RDS (route_config_name %q): per-route ext_authz settings (disabled routes, context extensions) are not checked", rs.Rds.GetRouteConfigName())
	case *hcmv3.HttpConnectionManager_ScopedRoutes:
		l.add(Note, p.field("scoped_routes"), "routes come from scoped RDS: per-route ext_authz settings are not checked")
	}
}

// unpack returns the message in a typed_config, or nil when it is absent or its type is
// not linked (reported when decoding).
func unpack(a *anypb.Any) proto.Message {
	if a == nil {
		return nil
	}
	m, err := a.UnmarshalNew()
	if err != nil {
		return nil
	}
	return m
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
