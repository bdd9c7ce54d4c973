package envoy_test

import (
	"strings"
	"testing"
	"time"

	bootstrapv3 "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	streamv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/access_loggers/stream/v3"
	extauthzv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_authz/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	httpv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/gatehouse/gatehouse/envoy/internal/demotest"
)

// Each check of demoEnvoyProblems fails on a copy of envoy/local/envoy.yaml with one
// setting broken.
func TestDemoEnvoyChecksCatchMutations(t *testing.T) {
	want := localWant(t)
	orig, err := readEnvoyBootstrap(demotest.Path(t, "envoy/local/envoy.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if ps := demoEnvoyProblems(orig, want); len(ps) > 0 {
		t.Fatalf("the unmutated configuration has problems: %v", ps)
	}
	route := func(i int, f func(r *routev3.Route)) func(*testing.T, *bootstrapv3.Bootstrap) {
		return func(t *testing.T, b *bootstrapv3.Bootstrap) {
			withHCM(t, b, func(h *hcmv3.HttpConnectionManager) { f(h.GetRouteConfig().GetVirtualHosts()[0].GetRoutes()[i]) })
		}
	}
	perRoute := func(t *testing.T, pr *extauthzv3.ExtAuthzPerRoute) map[string]*anypb.Any {
		return map[string]*anypb.Any{extAuthzFilter: packAny(t, pr)}
	}
	cases := []struct {
		name   string
		mutate func(*testing.T, *bootstrapv3.Bootstrap)
		want   string // in one of the problems
	}{
		{"fail open", mutExtAuthz(func(a *extauthzv3.ExtAuthz) { a.FailureModeAllow = true }), "failure_mode_allow"},
		{"403 on error", mutExtAuthz(func(a *extauthzv3.ExtAuthz) { a.StatusOnError = &typev3.HttpStatus{Code: typev3.StatusCode_Forbidden} }), "status_on_error"},
		{"no status on error", mutExtAuthz(func(a *extauthzv3.ExtAuthz) { a.StatusOnError = nil }), "status_on_error"},
		{"slow timeout", mutExtAuthz(func(a *extauthzv3.ExtAuthz) { a.GetGrpcService().Timeout = durationpb.New(5 * time.Second) }), "timeout"},
		{"default timeout", mutExtAuthz(func(a *extauthzv3.ExtAuthz) { a.GetGrpcService().Timeout = nil }), "timeout"},
		{"transport auto", mutExtAuthz(func(a *extauthzv3.ExtAuthz) { a.TransportApiVersion = corev3.ApiVersion_AUTO }), "transport_api_version"},
		{"no body", mutExtAuthz(func(a *extauthzv3.ExtAuthz) { a.WithRequestBody = nil }), "with_request_body"},
		{"partial body", mutExtAuthz(func(a *extauthzv3.ExtAuthz) { a.GetWithRequestBody().AllowPartialMessage = true }), "partial"},
		{"body as string", mutExtAuthz(func(a *extauthzv3.ExtAuthz) { a.GetWithRequestBody().PackAsBytes = false }), "pack_as_bytes"},
		{"wrong cluster", mutExtAuthz(func(a *extauthzv3.ExtAuthz) { a.GetGrpcService().GetEnvoyGrpc().ClusterName = "app" }), "want gatehouse"},
		{"no filter state", mutExtAuthz(func(a *extauthzv3.ExtAuthz) { a.EmitFilterStateStats = false }), "emit_filter_state_stats"},
		{"router first", mutHCM(func(h *hcmv3.HttpConnectionManager) {
			f := h.HttpFilters
			f[0], f[len(f)-1] = f[len(f)-1], f[0]
		}), "router is not the last"},
		{"no ext_authz", mutHCM(func(h *hcmv3.HttpConnectionManager) { h.HttpFilters = h.HttpFilters[1:] }), "no ext_authz filter"},
		{"stat prefix", mutHCM(func(h *hcmv3.HttpConnectionManager) { h.StatPrefix = "edge" }), "stat_prefix"},
		{"no normalisation", mutHCM(func(h *hcmv3.HttpConnectionManager) { h.NormalizePath = wrapperspb.Bool(false) }), "normalised"},
		{"slashes kept", mutHCM(func(h *hcmv3.HttpConnectionManager) {
			h.PathWithEscapedSlashesAction = hcmv3.HttpConnectionManager_KEEP_UNCHANGED
		}), "normalised"},
		{"xff trusted", mutHCM(func(h *hcmv3.HttpConnectionManager) { h.UseRemoteAddress = nil }), "use_remote_address"},
		{"no decision id logged", mutHCM(func(h *hcmv3.HttpConnectionManager) {
			out := &streamv3.StdoutAccessLog{}
			if err := h.GetAccessLog()[0].GetTypedConfig().UnmarshalTo(out); err != nil {
				t.Fatal(err)
			}
			delete(out.GetLogFormat().GetJsonFormat().GetFields(), "decision_id")
			if err := h.GetAccessLog()[0].GetTypedConfig().MarshalFrom(out); err != nil {
				t.Fatal(err)
			}
		}), "decision_id"},
		{"no access log", mutHCM(func(h *hcmv3.HttpConnectionManager) { h.AccessLog = nil }), "no JSON access log"},
		{"unknown kind", route(2, func(r *routev3.Route) {
			r.TypedPerFilterConfig = perRoute(t, &extauthzv3.ExtAuthzPerRoute{Override: &extauthzv3.ExtAuthzPerRoute_CheckSettings{
				CheckSettings: &extauthzv3.CheckSettings{ContextExtensions: map[string]string{"kind": "invoice"}}}})
		}), `kind "invoice"`},
		{"route without kind", route(3, func(r *routev3.Route) { r.TypedPerFilterConfig = nil }), `kind ""`},
		{"api unchecked", route(3, func(r *routev3.Route) {
			r.TypedPerFilterConfig = perRoute(t, &extauthzv3.ExtAuthzPerRoute{Override: &extauthzv3.ExtAuthzPerRoute_Disabled{Disabled: true}})
		}), "only /healthz and /readyz"},
		{"probe checked", route(0, func(r *routev3.Route) { r.TypedPerFilterConfig = nil }), "no route for /healthz"},
		{"probe keeps identity headers", route(1, func(r *routev3.Route) { r.RequestHeadersToRemove = nil }), "x-gatehouse-principal"},
		{"route to nowhere", route(2, func(r *routev3.Route) {
			r.GetRoute().ClusterSpecifier = &routev3.RouteAction_Cluster{Cluster: "elsewhere"}
		}), "unknown cluster"},
		{"host disables", mutHCM(func(h *hcmv3.HttpConnectionManager) {
			h.GetRouteConfig().GetVirtualHosts()[0].TypedPerFilterConfig = perRoute(t,
				&extauthzv3.ExtAuthzPerRoute{Override: &extauthzv3.ExtAuthzPerRoute_Disabled{Disabled: true}})
		}), "must not disable"},
		{"gatehouse port", mutCluster("gatehouse", func(c *clusterv3.Cluster) {
			c.GetLoadAssignment().GetEndpoints()[0].GetLbEndpoints()[0].GetEndpoint().GetAddress().GetSocketAddress().PortSpecifier =
				&corev3.SocketAddress_PortValue{PortValue: 9999}
		}), "gatehouse's gRPC address"},
		{"gatehouse over HTTP/1", mutCluster("gatehouse", func(c *clusterv3.Cluster) { c.TypedExtensionProtocolOptions = nil }), "HTTP/2"},
		{"health of another service", mutCluster("gatehouse", func(c *clusterv3.Cluster) {
			c.GetHealthChecks()[0].GetGrpcHealthCheck().ServiceName = "envoy.service.auth.v3.Authorization"
		}), "grpc.health.v1"},
		{"no health check", mutCluster("gatehouse", func(c *clusterv3.Cluster) { c.HealthChecks = nil }), "grpc.health.v1"},
		{"app over HTTP/2", mutCluster("app", func(c *clusterv3.Cluster) {
			c.TypedExtensionProtocolOptions = map[string]*anypb.Any{"envoy.extensions.upstreams.http.v3.HttpProtocolOptions": packAny(t, &httpv3.HttpProtocolOptions{
				UpstreamProtocolOptions: &httpv3.HttpProtocolOptions_ExplicitHttpConfig_{ExplicitHttpConfig: &httpv3.HttpProtocolOptions_ExplicitHttpConfig{
					ProtocolConfig: &httpv3.HttpProtocolOptions_ExplicitHttpConfig_Http2ProtocolOptions{Http2ProtocolOptions: &corev3.Http2ProtocolOptions{}}}}})}
		}), "HTTP/1.1"},
		{"app port", mutCluster("app", func(c *clusterv3.Cluster) {
			c.GetLoadAssignment().GetEndpoints()[0].GetLbEndpoints()[0].GetEndpoint().GetAddress().GetSocketAddress().Address = "10.0.0.1"
		}), "cluster app endpoint"},
		{"no app", func(t *testing.T, b *bootstrapv3.Bootstrap) {
			b.GetStaticResources().Clusters = b.GetStaticResources().GetClusters()[:1]
		}, "no cluster named app"},
		{"public admin", func(t *testing.T, b *bootstrapv3.Bootstrap) {
			b.GetAdmin().GetAddress().GetSocketAddress().Address = "0.0.0.0"
		}, "admin address"},
		{"listener port", func(t *testing.T, b *bootstrapv3.Bootstrap) {
			b.GetStaticResources().GetListeners()[0].GetAddress().GetSocketAddress().PortSpecifier =
				&corev3.SocketAddress_PortValue{PortValue: 10000}
		}, "listener address"},
		{"listener renamed", func(t *testing.T, b *bootstrapv3.Bootstrap) {
			b.GetStaticResources().GetListeners()[0].Name = "edge"
		}, "no listener named ingress"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := proto.Clone(orig).(*bootstrapv3.Bootstrap)
			c.mutate(t, b)
			ps := demoEnvoyProblems(b, want)
			for _, p := range ps {
				if strings.Contains(p, c.want) {
					return
				}
			}
			t.Errorf("no problem mentions %q; got %q", c.want, ps)
		})
	}
}

// mutExtAuthz returns a mutation of the ext_authz filter's configuration.
func mutExtAuthz(f func(*extauthzv3.ExtAuthz)) func(*testing.T, *bootstrapv3.Bootstrap) {
	return func(t *testing.T, b *bootstrapv3.Bootstrap) {
		withHCM(t, b, func(h *hcmv3.HttpConnectionManager) {
			for _, hf := range h.GetHttpFilters() {
				if hf.GetName() != extAuthzFilter {
					continue
				}
				a := &extauthzv3.ExtAuthz{}
				if err := hf.GetTypedConfig().UnmarshalTo(a); err != nil {
					t.Fatal(err)
				}
				f(a)
				if err := hf.GetTypedConfig().MarshalFrom(a); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

// mutHCM returns a mutation of the ingress listener's HTTP connection manager.
func mutHCM(f func(*hcmv3.HttpConnectionManager)) func(*testing.T, *bootstrapv3.Bootstrap) {
	return func(t *testing.T, b *bootstrapv3.Bootstrap) { withHCM(t, b, f) }
}

func mutCluster(name string, f func(*clusterv3.Cluster)) func(*testing.T, *bootstrapv3.Bootstrap) {
	return func(t *testing.T, b *bootstrapv3.Bootstrap) {
		for _, c := range b.GetStaticResources().GetClusters() {
			if c.GetName() == name {
				f(c)
				return
			}
		}
		t.Fatalf("no cluster %s", name)
	}
}

// withHCM unpacks the ingress listener's HCM, lets f change it and packs it again.
func withHCM(t *testing.T, b *bootstrapv3.Bootstrap, f func(*hcmv3.HttpConnectionManager)) {
	t.Helper()
	l := findListener(b, "ingress")
	if l == nil {
		t.Fatal("no listener ingress")
	}
	h, err := listenerHCM(l)
	if err != nil {
		t.Fatal(err)
	}
	f(h)
	if err := l.GetFilterChains()[0].GetFilters()[0].GetTypedConfig().MarshalFrom(h); err != nil {
		t.Fatal(err)
	}
}

func packAny(t *testing.T, m proto.Message) *anypb.Any {
	t.Helper()
	a, err := anypb.New(m)
	if err != nil {
		t.Fatal(err)
	}
	return a
}
