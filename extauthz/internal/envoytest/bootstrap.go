package envoytest

import (
	"fmt"
	"time"

	bootstrapv3 "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	httpv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// ports are the resolved listener and admin ports of one Envoy run.
type ports struct {
	listener, admin int
}

// renderBootstrap builds the bootstrap for c (defaults already applied),
// validates it and returns it as protojson, which Envoy reads as YAML. nodeID
// identifies this Envoy on its admin endpoint.
func renderBootstrap(c Config, p ports, nodeID, accessLogPath string) ([]byte, error) {
	b, err := buildBootstrap(c, p, nodeID, accessLogPath)
	if err != nil {
		return nil, err
	}
	if err := b.ValidateAll(); err != nil {
		return nil, fmt.Errorf("envoytest: invalid bootstrap: %w", err)
	}
	out, err := protojson.MarshalOptions{Multiline: true, Indent: "  "}.Marshal(b)
	if err != nil {
		return nil, fmt.Errorf("envoytest: marshal bootstrap: %w", err)
	}
	return out, nil
}

func buildBootstrap(c Config, p ports, nodeID, accessLogPath string) (*bootstrapv3.Bootstrap, error) {
	authz, err := parseAuthzTarget(c.AuthzTarget)
	if err != nil {
		return nil, err
	}
	hcm, err := buildHCM(c, accessLogPath)
	if err != nil {
		return nil, err
	}
	hcmAny, err := toAny(hcm)
	if err != nil {
		return nil, err
	}
	authzCluster, err := buildAuthzCluster(authz)
	if err != nil {
		return nil, err
	}
	clusters := []*clusterv3.Cluster{authzCluster}
	if c.Upstream != "" {
		host, port, err := splitHostPort(c.Upstream)
		if err != nil {
			return nil, fmt.Errorf("envoytest: Upstream: %w", err)
		}
		clusters = append(clusters, staticCluster(UpstreamCluster, socketAddress(host, port)))
	}
	return &bootstrapv3.Bootstrap{
		Node: &corev3.Node{Id: nodeID, Cluster: "envoytest"},
		Admin: &bootstrapv3.Admin{
			Address: socketAddress("127.0.0.1", p.admin),
		},
		StaticResources: &bootstrapv3.Bootstrap_StaticResources{
			Listeners: []*listenerv3.Listener{{
				Name:    "ingress",
				Address: socketAddress("127.0.0.1", p.listener),
				// With SO_REUSEPORT (Envoy's default on Linux) a second
				// Envoy could bind the same port and take our requests.
				EnableReusePort: wrapperspb.Bool(false),
				FilterChains: []*listenerv3.FilterChain{{
					Filters: []*listenerv3.Filter{{
						Name:       "envoy.filters.network.http_connection_manager",
						ConfigType: &listenerv3.Filter_TypedConfig{TypedConfig: hcmAny},
					}},
				}},
			}},
			Clusters: clusters,
		},
	}, nil
}

// buildAuthzCluster returns the HTTP/2 cluster for the ext_authz server.
func buildAuthzCluster(a authzAddr) (*clusterv3.Cluster, error) {
	addr := socketAddress(a.host, a.port)
	if a.pipe != "" {
		addr = &corev3.Address{Address: &corev3.Address_Pipe{Pipe: &corev3.Pipe{Path: a.pipe}}}
	}
	cl := staticCluster(AuthzCluster, addr)
	h2, err := toAny(&httpv3.HttpProtocolOptions{
		UpstreamProtocolOptions: &httpv3.HttpProtocolOptions_ExplicitHttpConfig_{
			ExplicitHttpConfig: &httpv3.HttpProtocolOptions_ExplicitHttpConfig{
				ProtocolConfig: &httpv3.HttpProtocolOptions_ExplicitHttpConfig_Http2ProtocolOptions{
					Http2ProtocolOptions: &corev3.Http2ProtocolOptions{},
				},
			},
		},
	})
	if err != nil {
		return nil, err
	}
	cl.TypedExtensionProtocolOptions = map[string]*anypb.Any{
		"envoy.extensions.upstreams.http.v3.HttpProtocolOptions": h2,
	}
	return cl, nil
}

func staticCluster(name string, addr *corev3.Address) *clusterv3.Cluster {
	return &clusterv3.Cluster{
		Name:                 name,
		ClusterDiscoveryType: &clusterv3.Cluster_Type{Type: clusterv3.Cluster_STATIC},
		ConnectTimeout:       durationpb.New(time.Second),
		LoadAssignment: &endpointv3.ClusterLoadAssignment{
			ClusterName: name,
			Endpoints: []*endpointv3.LocalityLbEndpoints{{
				LbEndpoints: []*endpointv3.LbEndpoint{{
					HostIdentifier: &endpointv3.LbEndpoint_Endpoint{
						Endpoint: &endpointv3.Endpoint{Address: addr},
					},
				}},
			}},
		},
	}
}

func socketAddress(host string, port int) *corev3.Address {
	return &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{
		Address:       host,
		PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: uint32(port)},
	}}}
}

// toAny validates m and packs it. Validation happens here because the
// bootstrap's ValidateAll does not look inside Any fields.
func toAny(m proto.Message) (*anypb.Any, error) {
	if v, ok := m.(interface{ ValidateAll() error }); ok {
		if err := v.ValidateAll(); err != nil {
			return nil, fmt.Errorf("envoytest: invalid %T: %w", m, err)
		}
	}
	a, err := anypb.New(m)
	if err != nil {
		return nil, fmt.Errorf("envoytest: pack %T: %w", m, err)
	}
	return a, nil
}
