package envoy_test

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	bootstrapv3 "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	filev3 "github.com/envoyproxy/go-control-plane/envoy/extensions/access_loggers/file/v3"
	streamv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/access_loggers/stream/v3"
	extauthzv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_authz/v3"
	routerv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	httpv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3"
	"go.yaml.in/yaml/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/anypb"

	// Extensions the demo configurations name only by "@type": protojson finds them in
	// the registry these imports fill.
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/resource_monitors/downstream_connections/v3"

	"github.com/gatehouse/gatehouse/envoy/internal/demotest"
	"github.com/gatehouse/gatehouse/extauthz"
	"github.com/gatehouse/gatehouse/policies"
)

const (
	extAuthzFilter = "envoy.filters.http.ext_authz"
	routerFilter   = "envoy.filters.http.router"
	// maxCheckTimeout bounds the ext_authz timeout: a request must not hang long on a
	// gatehouse that does not answer.
	maxCheckTimeout = 2 * time.Second
)

// Every Envoy bootstrap under envoy/ (envoy*.yaml with static_resources), except envoy/istio,
// where Istio generates Envoy's configuration.
func envoyBootstraps(t *testing.T) []string {
	t.Helper()
	root := demotest.Path(t, "envoy")
	var files []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path == filepath.Join(root, "istio") {
				return filepath.SkipDir
			}
			return nil
		}
		name := d.Name()
		if !strings.HasPrefix(name, "envoy") || (filepath.Ext(name) != ".yaml" && filepath.Ext(name) != ".yml") {
			return nil
		}
		var top map[string]any
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if yaml.Unmarshal(data, &top) == nil && top["static_resources"] != nil {
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"envoy/local/envoy.yaml", "envoy/compose/envoy.yaml"} {
		if !slices.Contains(files, demotest.Path(t, want)) {
			t.Fatalf("%s is not among the bootstraps found under envoy/: %v", want, files)
		}
	}
	return files
}

// readEnvoyBootstrap reads an Envoy YAML bootstrap the way Envoy does: YAML to JSON, then
// strict protobuf JSON (unknown fields and unknown "@type"s are errors).
func readEnvoyBootstrap(path string) (*bootstrapv3.Bootstrap, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return parseEnvoyBootstrap(data)
}

func parseEnvoyBootstrap(data []byte) (*bootstrapv3.Bootstrap, error) {
	var doc any
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, err
	}
	js, err := json.Marshal(doc)
	if err != nil {
		return nil, err
	}
	b := &bootstrapv3.Bootstrap{}
	if err := protojson.Unmarshal(js, b); err != nil {
		return nil, err
	}
	return b, nil
}

// validateDeep runs the generated validation of m and of every message packed in an Any
// below it: ValidateAll stops at Any fields.
func validateDeep(m proto.Message) error {
	var errs []string
	var visit func(m proto.Message, where string)
	visit = func(m proto.Message, where string) {
		if v, ok := m.(interface{ ValidateAll() error }); ok {
			if err := v.ValidateAll(); err != nil {
				errs = append(errs, where+": "+err.Error())
			}
		}
		forEachAny(m.ProtoReflect(), func(a *anypb.Any) {
			inner, err := a.UnmarshalNew()
			if err != nil {
				errs = append(errs, where+": "+err.Error())
				return
			}
			visit(inner, a.GetTypeUrl())
		})
	}
	visit(m, string(m.ProtoReflect().Descriptor().FullName()))
	if len(errs) > 0 {
		return fmt.Errorf("%s", strings.Join(errs, "\n"))
	}
	return nil
}

// forEachAny calls f for each Any reachable from m without passing through another Any.
func forEachAny(m protoreflect.Message, f func(*anypb.Any)) {
	if a, ok := m.Interface().(*anypb.Any); ok {
		f(a)
		return
	}
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case fd.IsList() && fd.Message() != nil:
			for i := 0; i < v.List().Len(); i++ {
				forEachAny(v.List().Get(i).Message(), f)
			}
		case fd.IsMap() && fd.MapValue().Message() != nil:
			v.Map().Range(func(_ protoreflect.MapKey, mv protoreflect.Value) bool {
				forEachAny(mv.Message(), f)
				return true
			})
		case !fd.IsList() && !fd.IsMap() && fd.Message() != nil:
			forEachAny(v.Message(), f)
		}
		return true
	})
}

func TestEnvoyBootstrapsLoadAndValidate(t *testing.T) {
	for _, path := range envoyBootstraps(t) {
		rel, _ := filepath.Rel(demotest.Root(t), path)
		t.Run(filepath.ToSlash(rel), func(t *testing.T) {
			b, err := readEnvoyBootstrap(path)
			if err != nil {
				t.Fatalf("does not load as an Envoy bootstrap: %v", err)
			}
			if err := validateDeep(b); err != nil {
				t.Errorf("fails validation:\n%v", err)
			}
		})
	}
}

func TestValidateDeepLooksInsideAny(t *testing.T) {
	b, err := readEnvoyBootstrap(demotest.Path(t, "envoy/local/envoy.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	// The HCM's stat_prefix is required: only a validation that unpacks the listener's
	// typed_config sees it go.
	withHCM(t, b, func(h *hcmv3.HttpConnectionManager) { h.StatPrefix = "" })
	if err := b.ValidateAll(); err != nil {
		t.Fatalf("ValidateAll unexpectedly looked inside the Any: %v", err)
	}
	if err := validateDeep(b); err == nil || !strings.Contains(err.Error(), "StatPrefix") {
		t.Errorf("validateDeep = %v, want the missing stat_prefix", err)
	}
}

// Envoy's own validation. --mode validate builds every listener and cluster without
// binding ports or resolving names (with Envoy 1.40 a STRICT_DNS cluster at
// no-such-host.invalid validates), so the compose copy, whose clusters name the
// containers gatehouse and app, is validated as it is.
func TestEnvoyBootstrapsPassEnvoyValidate(t *testing.T) {
	bin := demotest.Envoy(t)
	for _, path := range envoyBootstraps(t) {
		rel, _ := filepath.Rel(demotest.Root(t), path)
		t.Run(filepath.ToSlash(rel), func(t *testing.T) {
			t.Parallel()
			out, err := exec.Command(bin, "--mode", "validate", "-c", path,
				"--disable-hot-restart", "--log-level", "warn").CombinedOutput()
			if err != nil || !strings.Contains(string(out), "OK") {
				t.Errorf("envoy --mode validate: %v\n%s", err, out)
			}
		})
	}
}

// demoEnvoyWant is what one copy of the demo Envoy configuration must say.
type demoEnvoyWant struct {
	listener, admin, gatehouse, app string // host:port
	kinds                           map[string]bool
	identityHeaders                 []string
}

// demoFacts reads envoy/demo/gatehouse.yaml and its policies: gatehouse's gRPC address,
// the resource kinds the policies define, and the identity headers gatehouse sets.
func demoFacts(t *testing.T) (grpcAddr string, kinds map[string]bool, identityHeaders []string) {
	t.Helper()
	cfg, err := extauthz.LoadConfig(demotest.Path(t, "envoy/demo/gatehouse.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	repo, err := policies.ReadRepository(os.DirFS(cfg.Policies.Directory))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := policies.Compile(repo, policies.Config{}); err != nil {
		t.Fatal(err)
	}
	kinds = map[string]bool{}
	for _, p := range repo.Policies {
		if p.Kind == policies.KindResource && !p.Disabled {
			kinds[p.Resource.Resource] = true
		}
	}
	h := cfg.Response.Headers
	identityHeaders = []string{h.Principal, h.Roles, h.DecisionID, h.IdentitySource}
	for name := range h.Attributes {
		identityHeaders = append(identityHeaders, name)
	}
	return cfg.Server.GRPC.Address, kinds, identityHeaders
}

func localWant(t *testing.T) demoEnvoyWant {
	grpcAddr, kinds, headers := demoFacts(t)
	return demoEnvoyWant{
		listener:        "127.0.0.1:8080",
		admin:           "127.0.0.1:9901",
		gatehouse:       grpcAddr,
		app:             "127.0.0.1:8000",
		kinds:           kinds,
		identityHeaders: headers,
	}
}

func TestDemoEnvoyConfigs(t *testing.T) {
	local := localWant(t)
	compose := local
	compose.listener, compose.admin = "0.0.0.0:8080", "0.0.0.0:9901"
	compose.gatehouse, compose.app = composeUpstreams(t)
	for path, want := range map[string]demoEnvoyWant{
		"envoy/local/envoy.yaml":   local,
		"envoy/compose/envoy.yaml": compose,
	} {
		t.Run(path, func(t *testing.T) {
			b, err := readEnvoyBootstrap(demotest.Path(t, path))
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range demoEnvoyProblems(b, want) {
				t.Error(p)
			}
		})
	}
}

// demoEnvoyProblems lists every way b departs from the demo's Envoy contract.
func demoEnvoyProblems(b *bootstrapv3.Bootstrap, want demoEnvoyWant) []string {
	var ps []string
	bad := func(format string, args ...any) { ps = append(ps, fmt.Sprintf(format, args...)) }

	if got := socketAddr(b.GetAdmin().GetAddress()); got != want.admin {
		bad("admin address %s, want %s", got, want.admin)
	}
	clusters := map[string]*clusterv3.Cluster{}
	for _, c := range b.GetStaticResources().GetClusters() {
		clusters[c.GetName()] = c
	}
	ps = append(ps, gatehouseClusterProblems(clusters["gatehouse"], want.gatehouse)...)
	ps = append(ps, appClusterProblems(clusters["app"], want.app)...)

	l := findListener(b, "ingress")
	if l == nil {
		return append(ps, "no listener named ingress")
	}
	if got := socketAddr(l.GetAddress()); got != want.listener {
		bad("listener address %s, want %s", got, want.listener)
	}
	h, err := listenerHCM(l)
	if err != nil {
		return append(ps, err.Error())
	}
	if h.GetStatPrefix() != "ingress" {
		bad("HCM stat_prefix %q, want ingress (the stats are http.ingress.ext_authz.*)", h.GetStatPrefix())
	}
	if !h.GetNormalizePath().GetValue() || !h.GetMergeSlashes() ||
		h.GetPathWithEscapedSlashesAction() != hcmv3.HttpConnectionManager_REJECT_REQUEST {
		bad("paths not normalised as gatehouse expects (normalize_path %v, merge_slashes %v, escaped slashes %v)",
			h.GetNormalizePath().GetValue(), h.GetMergeSlashes(), h.GetPathWithEscapedSlashesAction())
	}
	if !h.GetUseRemoteAddress().GetValue() {
		bad("use_remote_address is not true at the edge")
	}

	authz, problems := filterChainProblems(h.GetHttpFilters())
	ps = append(ps, problems...)
	if authz != nil {
		ps = append(ps, extAuthzProblems(authz)...)
		ps = append(ps, accessLogProblems(h, authz)...)
	}
	ps = append(ps, routeProblems(h, clusters, want)...)
	return ps
}

// filterChainProblems checks that ext_authz runs once, before the router, which is last.
func filterChainProblems(filters []*hcmv3.HttpFilter) (*extauthzv3.ExtAuthz, []string) {
	var ps []string
	var authz *extauthzv3.ExtAuthz
	authzAt := -1
	for i, f := range filters {
		if f.GetName() != extAuthzFilter {
			continue
		}
		if authzAt >= 0 {
			ps = append(ps, "more than one ext_authz filter")
		}
		authzAt, authz = i, &extauthzv3.ExtAuthz{}
		if err := f.GetTypedConfig().UnmarshalTo(authz); err != nil {
			return nil, append(ps, fmt.Sprintf("ext_authz typed_config: %v", err))
		}
	}
	if authzAt < 0 {
		ps = append(ps, "no ext_authz filter")
	}
	if n := len(filters); n == 0 || filters[n-1].GetName() != routerFilter ||
		!filters[n-1].GetTypedConfig().MessageIs(&routerv3.Router{}) {
		ps = append(ps, "the router is not the last HTTP filter")
	}
	return authz, ps
}

func extAuthzProblems(a *extauthzv3.ExtAuthz) []string {
	var ps []string
	bad := func(format string, args ...any) { ps = append(ps, fmt.Sprintf(format, args...)) }
	if a.GetFailureModeAllow() {
		bad("ext_authz failure_mode_allow is true: an unreachable gatehouse would let requests through")
	}
	if code := a.GetStatusOnError().GetCode(); code != 503 {
		bad("ext_authz status_on_error %d, want 503", code)
	}
	if a.GetTransportApiVersion() != corev3.ApiVersion_V3 {
		bad("ext_authz transport_api_version %v, want V3", a.GetTransportApiVersion())
	}
	svc := a.GetGrpcService()
	if got := svc.GetEnvoyGrpc().GetClusterName(); got != "gatehouse" {
		bad("ext_authz calls cluster %q, want gatehouse (envoy_grpc)", got)
	}
	if d := svc.GetTimeout().AsDuration(); svc.GetTimeout() == nil || d <= 0 || d > maxCheckTimeout {
		bad("ext_authz timeout %v, want set and at most %v", svc.GetTimeout(), maxCheckTimeout)
	}
	body := a.GetWithRequestBody()
	switch {
	case body == nil:
		bad("ext_authz does not forward request bodies (with_request_body)")
	case body.GetAllowPartialMessage():
		bad("ext_authz with_request_body allows partial bodies: a policy would decide on a truncated body")
	case body.GetMaxRequestBytes() == 0 || !body.GetPackAsBytes():
		bad("ext_authz with_request_body %v, want max_request_bytes and pack_as_bytes", body)
	}
	return ps
}

// accessLogProblems checks the JSON access log: decision id and the request's outcome.
func accessLogProblems(h *hcmv3.HttpConnectionManager, authz *extauthzv3.ExtAuthz) []string {
	want := map[string]string{
		"decision_id":   "%DYNAMIC_METADATA(envoy.filters.http.ext_authz:decision_id)%",
		"status":        "%RESPONSE_CODE%",
		"flags":         "%RESPONSE_FLAGS%",
		"method":        "%REQ(:METHOD)%",
		"path":          "%REQ(:PATH)%",
		"upstream_host": "%UPSTREAM_HOST%",
	}
	for _, al := range h.GetAccessLog() {
		var format *corev3.SubstitutionFormatString
		if out := (&streamv3.StdoutAccessLog{}); al.GetTypedConfig().UnmarshalTo(out) == nil {
			format = out.GetLogFormat()
		} else if file := (&filev3.FileAccessLog{}); al.GetTypedConfig().UnmarshalTo(file) == nil {
			format = file.GetLogFormat()
		}
		fields := format.GetJsonFormat().AsMap()
		if len(fields) == 0 {
			continue
		}
		var ps []string
		for k, v := range want {
			if fields[k] != v {
				ps = append(ps, fmt.Sprintf("access log field %s is %v, want %s", k, fields[k], v))
			}
		}
		for k, v := range fields {
			if s, _ := v.(string); strings.Contains(s, "%FILTER_STATE("+extAuthzFilter) && !authz.GetEmitFilterStateStats() {
				ps = append(ps, fmt.Sprintf("access log field %s needs ext_authz emit_filter_state_stats", k))
			}
		}
		return ps
	}
	return []string{"no JSON access log"}
}

// routeProblems checks that every route is either a health probe with ext_authz disabled
// or names the resource kind of a demo policy, and that routes lead to known clusters.
func routeProblems(h *hcmv3.HttpConnectionManager, clusters map[string]*clusterv3.Cluster, want demoEnvoyWant) []string {
	var ps []string
	bad := func(format string, args ...any) { ps = append(ps, fmt.Sprintf(format, args...)) }
	probes := map[string]bool{"/healthz": false, "/readyz": false}
	for _, vh := range h.GetRouteConfig().GetVirtualHosts() {
		if pr, err := extAuthzPerRoute(vh.GetTypedPerFilterConfig()); err != nil || pr.GetDisabled() {
			bad("virtual host %s: ext_authz per-host config %v, %v: must not disable the check", vh.GetName(), pr, err)
		}
		for i, r := range vh.GetRoutes() {
			where := fmt.Sprintf("virtual host %s route %d (%v)", vh.GetName(), i, r.GetMatch())
			if c := r.GetRoute().GetCluster(); clusters[c] == nil {
				bad("%s: routes to unknown cluster %q", where, c)
			}
			pr, err := extAuthzPerRoute(r.GetTypedPerFilterConfig())
			switch {
			case err != nil:
				bad("%s: %v", where, err)
			case pr.GetDisabled():
				path := r.GetMatch().GetPath()
				if _, ok := probes[path]; !ok {
					bad("%s: disables ext_authz, which only /healthz and /readyz may", where)
					continue
				}
				probes[path] = true
				for _, hdr := range want.identityHeaders {
					if !slices.Contains(r.GetRequestHeadersToRemove(), hdr) {
						bad("%s: unchecked route passes client-sent %s to the app", where, hdr)
					}
				}
			default:
				kind := pr.GetCheckSettings().GetContextExtensions()["kind"]
				if !want.kinds[kind] {
					bad("%s: context_extensions kind %q is not a resource kind of the demo policies %v", where, kind, want.kinds)
				}
			}
		}
	}
	for path, seen := range probes {
		if !seen {
			bad("no route for %s with ext_authz disabled", path)
		}
	}
	return ps
}

func extAuthzPerRoute(m map[string]*anypb.Any) (*extauthzv3.ExtAuthzPerRoute, error) {
	a := m[extAuthzFilter]
	if a == nil {
		return nil, nil
	}
	pr := &extauthzv3.ExtAuthzPerRoute{}
	if err := a.UnmarshalTo(pr); err != nil {
		return nil, fmt.Errorf("ext_authz per-route config: %w", err)
	}
	return pr, nil
}

func gatehouseClusterProblems(c *clusterv3.Cluster, addr string) []string {
	if c == nil {
		return []string{"no cluster named gatehouse"}
	}
	var ps []string
	if got := clusterEndpoint(c); got != addr {
		ps = append(ps, fmt.Sprintf("cluster gatehouse endpoint %s, want gatehouse's gRPC address %s", got, addr))
	}
	opts, err := protocolOptions(c)
	if err != nil || opts.GetExplicitHttpConfig().GetHttp2ProtocolOptions() == nil {
		ps = append(ps, fmt.Sprintf("cluster gatehouse does not speak HTTP/2 (gRPC): %v", err))
	}
	grpcHealth := false
	for _, hc := range c.GetHealthChecks() {
		if g := hc.GetGrpcHealthCheck(); g != nil && g.GetServiceName() == "" {
			grpcHealth = true
		}
	}
	if !grpcHealth {
		ps = append(ps, `cluster gatehouse has no grpc.health.v1 check of service ""`)
	}
	return ps
}

func appClusterProblems(c *clusterv3.Cluster, addr string) []string {
	if c == nil {
		return []string{"no cluster named app"}
	}
	var ps []string
	if got := clusterEndpoint(c); got != addr {
		ps = append(ps, fmt.Sprintf("cluster app endpoint %s, want %s", got, addr))
	}
	if opts, err := protocolOptions(c); err != nil || opts.GetExplicitHttpConfig().GetHttp2ProtocolOptions() != nil {
		ps = append(ps, fmt.Sprintf("cluster app is not HTTP/1.1 (gunicorn): %v", err))
	}
	return ps
}

// protocolOptions returns the cluster's upstream HTTP options (nil when it has none).
func protocolOptions(c *clusterv3.Cluster) (*httpv3.HttpProtocolOptions, error) {
	a := c.GetTypedExtensionProtocolOptions()["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"]
	if a == nil {
		return nil, nil
	}
	opts := &httpv3.HttpProtocolOptions{}
	return opts, a.UnmarshalTo(opts)
}

// clusterEndpoint returns the cluster's only endpoint as host:port ("" unless exactly one).
func clusterEndpoint(c *clusterv3.Cluster) string {
	var addrs []string
	for _, le := range c.GetLoadAssignment().GetEndpoints() {
		for _, e := range le.GetLbEndpoints() {
			addrs = append(addrs, socketAddr(e.GetEndpoint().GetAddress()))
		}
	}
	if len(addrs) != 1 {
		return fmt.Sprintf("%v", addrs)
	}
	return addrs[0]
}

func socketAddr(a *corev3.Address) string {
	sa := a.GetSocketAddress()
	if sa == nil {
		return fmt.Sprintf("%v", a)
	}
	return net.JoinHostPort(sa.GetAddress(), strconv.Itoa(int(sa.GetPortValue())))
}

func findListener(b *bootstrapv3.Bootstrap, name string) *listenerv3.Listener {
	for _, l := range b.GetStaticResources().GetListeners() {
		if l.GetName() == name {
			return l
		}
	}
	return nil
}

// listenerHCM returns the HTTP connection manager of a listener with one filter chain.
func listenerHCM(l *listenerv3.Listener) (*hcmv3.HttpConnectionManager, error) {
	chains := l.GetFilterChains()
	if len(chains) != 1 || len(chains[0].GetFilters()) != 1 {
		return nil, fmt.Errorf("listener %s: want one filter chain with one filter (the HCM)", l.GetName())
	}
	h := &hcmv3.HttpConnectionManager{}
	if err := chains[0].GetFilters()[0].GetTypedConfig().UnmarshalTo(h); err != nil {
		return nil, fmt.Errorf("listener %s: %w", l.GetName(), err)
	}
	return h, nil
}
