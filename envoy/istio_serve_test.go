package envoy_test

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/gatehouse/gatehouse/extauthz"
)

// The peers of requests under Istio: the ingress gateway for traffic from outside the
// mesh, the reporting service over mTLS, and the app's own identity as the destination.
const (
	istioGatewayPeer  = "spiffe://cluster.local/ns/istio-system/sa/istio-ingressgateway-service-account"
	istioReporterPeer = "spiffe://cluster.local/ns/reports/sa/reporter"
	istioAppPeer      = "spiffe://cluster.local/ns/documents/sa/documents"
)

// TestIstioGatehouseServesTheMesh runs gatehouse on the configuration and volume the
// pod gets (listeners moved to 127.0.0.1:0), asks what its probes ask, and sends
// CheckRequests shaped like those of an Istio sidecar: no context_extensions, no
// metadata, the mTLS peer in source.principal, the body as bytes.
func TestIstioGatehouseServesTheMesh(t *testing.T) {
	d := loadIstio(t)
	c, err := istioContainer(d.deployment)
	if err != nil {
		t.Fatal(err)
	}
	cfg := d.config
	cfg.Server.GRPC.Address, cfg.Server.HTTP.Address = "127.0.0.1:0", "127.0.0.1:0"

	ctx, cancel := context.WithCancel(context.Background())
	svc, err := extauthz.New(ctx, cfg, nil)
	if err != nil {
		cancel()
		t.Fatalf("gatehouse does not start on the pod's configuration: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(20 * time.Second):
			t.Error("Run did not return after cancel")
		}
	})
	conn, err := grpc.NewClient(svc.GRPCAddr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })

	// The readiness probe: grpc.health.v1 for the service the probe names ("" if none).
	service := ""
	if s := c.ReadinessProbe.GRPC.Service; s != nil {
		service = *s
	}
	health := healthpb.NewHealthClient(conn)
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := health.Check(ctx, &healthpb.HealthCheckRequest{Service: service})
		if err == nil && resp.GetStatus() == healthpb.HealthCheckResponse_SERVING {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the readiness probe (gRPC health %q) never passes: %v %v", service, resp, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// The liveness probe: its path on the HTTP listener.
	resp, err := http.Get("http://" + svc.HTTPAddr().String() + c.LivenessProbe.HTTPGet.Path)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("liveness probe %s: %d", c.LivenessProbe.HTTPGet.Path, resp.StatusCode)
	}

	token := func(name string) string {
		b, err := os.ReadFile(filepath.Join(d.root, "envoy", "demo", "tokens", name+".jwt"))
		if err != nil {
			t.Fatal(err)
		}
		return "Bearer " + strings.TrimSpace(string(b))
	}
	client := authv3.NewAuthorizationClient(conn)
	for _, tc := range []struct {
		name                string
		method, path, peer  string
		auth, body          string
		status              int    // 200 = allowed
		principal, idSource string // when allowed
	}{
		{name: "user through the gateway", method: "GET", path: "/api/users/alice/documents", peer: istioGatewayPeer,
			auth: token("alice"), status: 200, principal: "alice", idSource: "jwt"},
		{name: "another user's documents", method: "GET", path: "/api/users/alice/documents", peer: istioGatewayPeer,
			auth: token("bob"), status: 403},
		{name: "no token through the gateway is anonymous, not the gateway", method: "GET", path: "/api/documents", peer: istioGatewayPeer,
			status: 200, principal: "anonymous", idSource: "anonymous"},
		{name: "no token for a user's documents", method: "GET", path: "/api/users/alice/documents", peer: istioGatewayPeer, status: 403},
		{name: "the gateway cannot read reports", method: "GET", path: "/internal/reports/7", peer: istioGatewayPeer, status: 403},
		{name: "the reporting service reads reports", method: "GET", path: "/internal/reports/7", peer: istioReporterPeer,
			status: 200, principal: istioReporterPeer, idSource: "spiffe"},
		{name: "admin area by kind, without context extensions", method: "DELETE", path: "/api/admin/users/bob", peer: istioGatewayPeer,
			auth: token("carol"), status: 200, principal: "carol", idSource: "jwt"},
		{name: "admin area refused to users", method: "GET", path: "/api/admin/users", peer: istioGatewayPeer, auth: token("alice"), status: 403},
		{name: "create from the body", method: "POST", path: "/api/documents", peer: istioGatewayPeer, auth: token("alice"),
			body: `{"title": "t", "body": "b", "classification": "internal"}`, status: 200, principal: "alice", idSource: "jwt"},
		{name: "restricted from the body", method: "POST", path: "/api/documents", peer: istioGatewayPeer, auth: token("alice"),
			body: `{"title": "t", "body": "b", "classification": "restricted"}`, status: 403},
		{name: "expired token", method: "GET", path: "/api/documents", peer: istioGatewayPeer, auth: token("expired"), status: 401},
		{name: "path no route knows", method: "GET", path: "/favicon.ico", peer: istioGatewayPeer, status: 403},
	} {
		t.Run(tc.name, func(t *testing.T) {
			headers := map[string]string{
				":authority": "documents.example.com", ":method": tc.method, ":path": tc.path, ":scheme": "http",
				"x-forwarded-proto": "http", "x-request-id": "istio-test",
				// The sidecar forwards the client's copy; gatehouse must overwrite it.
				"x-gatehouse-principal": "mallory",
			}
			if tc.auth != "" {
				headers["authorization"] = tc.auth
			}
			if tc.body != "" {
				headers["content-type"] = "application/json"
			}
			req := &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
				Source:      &authv3.AttributeContext_Peer{Principal: tc.peer, Address: istioSocket("10.0.0.7", 45678)},
				Destination: &authv3.AttributeContext_Peer{Principal: istioAppPeer, Address: istioSocket("10.0.0.9", 8000)},
				Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{
					Id: "istio-test", Method: tc.method, Path: tc.path, Host: "documents.example.com", Scheme: "http",
					Protocol: "HTTP/1.1", Headers: headers, RawBody: []byte(tc.body), Size: int64(len(tc.body)),
				}},
			}}
			resp, err := client.Check(ctx, req)
			if err != nil {
				t.Fatalf("Check: %v", err)
			}
			if tc.status != 200 {
				if got := int(resp.GetDeniedResponse().GetStatus().GetCode()); got != tc.status {
					t.Fatalf("status %d (%s), want %d", got, resp.GetStatus().GetMessage(), tc.status)
				}
				return
			}
			ok := resp.GetOkResponse()
			if ok == nil {
				t.Fatalf("denied (%s), want allowed", resp.GetStatus().GetMessage())
			}
			got := map[string]string{}
			for _, h := range ok.GetHeaders() {
				got[h.GetHeader().GetKey()] = h.GetHeader().GetValue()
			}
			if got["x-gatehouse-principal"] != tc.principal || got["x-gatehouse-identity-source"] != tc.idSource {
				t.Errorf("principal %q from %q, want %q from %q", got["x-gatehouse-principal"], got["x-gatehouse-identity-source"], tc.principal, tc.idSource)
			}
		})
	}
}

func istioSocket(ip string, port uint32) *corev3.Address {
	return &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{
		Address: ip, PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: port},
	}}}
}
