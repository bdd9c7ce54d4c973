package envoylint

import (
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// envoyLinter checks one bootstrap.
type envoyLinter struct {
	reporter
	gh *Gatehouse
	// clusters are the static clusters by name, with their paths.
	clusters     map[string]protoreflect.Message
	clusterPaths map[string]path
	// cds is true when clusters also come from CDS.
	cds bool
}

// lintBootstrap decodes an Envoy bootstrap and checks its ext_authz settings.
func lintBootstrap(name string, n *yaml.Node, root path, gh *Gatehouse) ([]Finding, error) {
	b := envoy().message(bootstrapMsg)
	d, err := decodeMessage(name, n, b, root)
	if err != nil {
		return nil, err
	}
	l := &envoyLinter{reporter: reporter{lines: d.lines}, gh: gh,
		clusters: map[string]protoreflect.Message{}, clusterPaths: map[string]path{}}
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
	l.bootstrap(b, root)
	return l.findings, nil
}

// looksLikeBootstrap reports whether one of the mapping's keys is a Bootstrap field.
func looksLikeBootstrap(n *yaml.Node) bool {
	fields := envoy().message(bootstrapMsg).Descriptor().Fields()
	for _, kv := range pairs(n) {
		if fields.ByJSONName(kv[0].Value) != nil || fields.ByName(protoreflect.Name(kv[0].Value)) != nil {
			return true
		}
	}
	return false
}

// isFilterPath reports whether a path key is a network or HTTP filter's typed_config.
func isFilterPath(key string) bool {
	parent := parentKey(parentKey(key))
	return strings.HasSuffix(key, ".typed_config") &&
		(strings.HasSuffix(parent, ".filters") || strings.HasSuffix(parent, ".http_filters"))
}

func (l *envoyLinter) bootstrap(b protoreflect.Message, root path) {
	sr := sub(b, "static_resources")
	srp := root.field("static_resources")
	for i, c := range list(sr, "clusters") {
		name := str(c, "name")
		if _, dup := l.clusters[name]; !dup {
			l.clusters[name] = c
			l.clusterPaths[name] = srp.field("clusters").index(i).named(name)
		}
	}
	dr := sub(b, "dynamic_resources")
	l.cds = has(dr, "cds_config") || str(dr, "cds_resources_locator") != ""
	lds := has(dr, "lds_config") || str(dr, "lds_resources_locator") != ""
	if lds {
		l.add(Note, root.field("dynamic_resources").field("lds_config"),
			"listeners also come from LDS: only the static listeners in this file are checked")
	}
	listeners := list(sr, "listeners")
	if len(listeners) == 0 && !lds {
		l.add(Note, srp.field("listeners"), "no listeners: nothing to check")
	}
	for i, lis := range listeners {
		l.listener(lis, srp.field("listeners").index(i).named(str(lis, "name")))
	}
}

func (l *envoyLinter) listener(lis protoreflect.Message, p path) {
	for i, fc := range list(lis, "filter_chains") {
		l.filterChain(fc, p.field("filter_chains").index(i).named(str(fc, "name")), str(lis, "name"))
	}
	if has(lis, "default_filter_chain") {
		l.filterChain(sub(lis, "default_filter_chain"), p.field("default_filter_chain"), str(lis, "name"))
	}
}

func (l *envoyLinter) filterChain(fc protoreflect.Message, p path, listener string) {
	for i, f := range list(fc, "filters") {
		fp := p.field("filters").index(i).named(str(f, "name"))
		if has(f, "config_discovery") {
			for _, u := range strs(sub(f, "config_discovery"), "type_urls") {
				if u == netExtAuthzURL {
					l.add(Note, fp.field("config_discovery"), "the network ext_authz filter's settings come from ECDS: they are not checked")
				}
			}
			continue
		}
		switch m := unpack(sub(f, "typed_config")); {
		case is(m, hcmMsg):
			l.hcm(m, fp.field("typed_config"), listener)
		case is(m, netExtAuthzMsg):
			l.networkExtAuthz(m, fp.field("typed_config"))
		}
	}
}

// authzFilter is an ext_authz HTTP filter of a connection manager.
type authzFilter struct {
	name string
	cfg  protoreflect.Message // an ExtAuthz
	path path
}

func (l *envoyLinter) hcm(h protoreflect.Message, p path, listener string) {
	fsp := p.field("http_filters")
	router, jwtAuthn := -1, -1
	var authz []authzFilter
	ecds := false
	for i, f := range list(h, "http_filters") {
		fp := fsp.index(i).named(str(f, "name"))
		if has(f, "config_discovery") {
			for _, u := range strs(sub(f, "config_discovery"), "type_urls") {
				if u == extAuthzURL {
					ecds = true
					l.add(Note, fp.field("config_discovery"), "this ext_authz filter's settings come from ECDS: they are not checked")
				}
			}
			continue
		}
		switch m := unpack(sub(f, "typed_config")); {
		case is(m, routerMsg):
			if router < 0 {
				router = i
			}
		case is(m, jwtAuthnMsg):
			if jwtAuthn < 0 {
				jwtAuthn = i
			}
		case is(m, extAuthzMsg):
			authz = append(authz, authzFilter{name: str(f, "name"), cfg: m, path: fp})
			if router >= 0 {
				l.add(Error, fp, "ext_authz comes after the router (http_filters[%d]), which ends the filter chain: Envoy refuses a router that is not last, and ext_authz could never run there; move it before the router", router)
			}
			if flag(f, "disabled") {
				l.add(Warning, fp.field("disabled"), "disabled: true turns ext_authz off except on routes that enable it in typed_per_filter_config: every other route is unchecked")
			}
			l.httpExtAuthz(m, fp.field("typed_config"), i, jwtAuthn)
		}
	}
	if len(authz) == 0 && !ecds {
		l.add(Warning, fsp, "this listener is not protected: its HTTP connection manager (listener %q) has no ext_authz filter, so gatehouse is never asked", listener)
	}
	for i, u := range list(h, "upgrade_configs") {
		filters := list(u, "filters")
		if len(filters) == 0 || len(authz) == 0 {
			continue
		}
		found := false
		for _, f := range filters {
			found = found || is(unpack(sub(f, "typed_config")), extAuthzMsg)
		}
		if !found {
			l.add(Warning, p.field("upgrade_configs").index(i).field("filters"),
				"%s upgrades use their own filter chain, which has no ext_authz filter: those requests are not checked", str(u, "upgrade_type"))
		}
	}
	switch which(h, "route_specifier") {
	case "route_config":
		if len(authz) > 0 {
			l.routeConfig(sub(h, "route_config"), p.field("route_config"), authz)
		}
	case "rds":
		l.add(Note, p.field("rds"), "routes come from RDS (route_config_name %q): per-route ext_authz settings (disabled routes, context extensions) are not checked", str(sub(h, "rds"), "route_config_name"))
	case "scoped_routes":
		l.add(Note, p.field("scoped_routes"), "routes come from scoped RDS: per-route ext_authz settings are not checked")
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
