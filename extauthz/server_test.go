package extauthz

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/genproto/googleapis/rpc/code"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/gatehouse/gatehouse/extauthz/internal/extauthztest"
)

const demoDir = "../envoy/demo"

// demoConfig loads the demo configuration with listeners on free loopback ports.
func demoConfig(t testing.TB) *Config {
	t.Helper()
	cfg, err := LoadConfig(filepath.Join(demoDir, "gatehouse.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Server.GRPC.Address = "127.0.0.1:0"
	cfg.Server.HTTP.Address = "127.0.0.1:0"
	return cfg
}

// startService runs a service until the test ends and returns a connected client.
func startService(t testing.TB, cfg *Config, opts ...Option) (*Service, authv3.AuthorizationClient, *grpc.ClientConn) {
	t.Helper()
	return startServiceLog(t, cfg, nil, opts...)
}

// startServiceLog is startService with the service logging to log.
func startServiceLog(t testing.TB, cfg *Config, log *slog.Logger, opts ...Option) (*Service, authv3.AuthorizationClient, *grpc.ClientConn) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	svc, err := New(ctx, cfg, log, opts...)
	if err != nil {
		cancel()
		t.Fatal(err)
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
	target := svc.GRPCAddr().String()
	if svc.GRPCAddr().Network() == "unix" {
		target = "unix:" + target
	}
	conn, err := grpc.NewClient(target, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	waitServing(t, conn)
	return svc, authv3.NewAuthorizationClient(conn), conn
}

func waitServing(t testing.TB, conn *grpc.ClientConn) {
	t.Helper()
	hc := healthpb.NewHealthClient(conn)
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := hc.Check(context.Background(), &healthpb.HealthCheckRequest{Service: authzService})
		if err == nil && resp.Status == healthpb.HealthCheckResponse_SERVING {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("service did not become SERVING")
}

func token(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(demoDir, "tokens", name+".jwt"))
	if err != nil {
		t.Fatal(err)
	}
	return "Bearer " + strings.TrimSpace(string(b))
}

// outcome is what a test expects of a CheckResponse.
type outcome struct {
	status  int               // 200 for allow, else the denied HTTP status
	reason  string            // deny body reason
	headers map[string]string // identity headers on allow
}

func checkOutcome(t *testing.T, resp *authv3.CheckResponse, want outcome) {
	t.Helper()
	md := resp.GetDynamicMetadata().GetFields()
	decisionID := md["decision_id"].GetStringValue()
	if len(decisionID) != 32 {
		t.Errorf("decision_id %q in metadata", decisionID)
	}
	if want.status == 200 {
		if resp.GetStatus().GetCode() != int32(code.Code_OK) || resp.GetOkResponse() == nil {
			t.Fatalf("want allow, got %v", resp)
		}
		got := map[string]string{}
		for _, h := range resp.GetOkResponse().GetHeaders() {
			if h.GetAppendAction() != corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD {
				t.Errorf("header %s is not an overwrite", h.GetHeader().GetKey())
			}
			got[h.GetHeader().GetKey()] = h.GetHeader().GetValue()
		}
		for k, v := range want.headers {
			if got[k] != v {
				t.Errorf("header %s = %q, want %q (all: %v)", k, got[k], v, got)
			}
		}
		if got["x-gatehouse-decision-id"] != decisionID {
			t.Errorf("decision id header %q != metadata %q", got["x-gatehouse-decision-id"], decisionID)
		}
		names := []string{"x-gatehouse-principal", "x-gatehouse-roles", "x-gatehouse-identity-source"}
		for k := range want.headers {
			names = append(names, k)
		}
		for _, name := range names {
			_, set := got[name]
			removed := false
			for _, r := range resp.GetOkResponse().GetHeadersToRemove() {
				removed = removed || r == name
			}
			if set == removed {
				t.Errorf("identity header %s: set %v, removed %v; want exactly one", name, set, removed)
			}
		}
		return
	}
	denied := resp.GetDeniedResponse()
	if resp.GetStatus().GetCode() == int32(code.Code_OK) || denied == nil {
		t.Fatalf("want deny %d, got %v", want.status, resp)
	}
	if int(denied.GetStatus().GetCode()) != want.status {
		t.Errorf("denied with %d, want %d (body %s)", denied.GetStatus().GetCode(), want.status, denied.GetBody())
	}
	var body denyBody
	if err := json.Unmarshal([]byte(denied.GetBody()), &body); err != nil {
		t.Fatalf("deny body %q: %v", denied.GetBody(), err)
	}
	if body.Reason != want.reason || body.DecisionID != decisionID || body.Status != want.status {
		t.Errorf("deny body %+v, want reason %s status %d id %s", body, want.reason, want.status, decisionID)
	}
	wwwAuth := ""
	for _, h := range denied.GetHeaders() {
		if h.GetHeader().GetKey() == "www-authenticate" {
			wwwAuth = h.GetHeader().GetValue()
		}
	}
	if (want.status == 401) != (wwwAuth != "") {
		t.Errorf("www-authenticate %q with status %d", wwwAuth, want.status)
	}
	if strings.Contains(denied.GetBody(), "eyJ") {
		t.Errorf("deny body contains a token: %s", denied.GetBody())
	}
}

func TestCheckOverGRPC(t *testing.T) {
	_, client, _ := startService(t, demoConfig(t))
	alice, bob, carol := token(t, "alice"), token(t, "bob"), token(t, "carol")
	anon := map[string]string{"x-gatehouse-principal": "anonymous", "x-gatehouse-roles": "anonymous", "x-gatehouse-identity-source": "anonymous"}
	tests := []struct {
		name string
		req  *authv3.CheckRequest
		want outcome
	}{
		{"anonymous lists published", extauthztest.NewCheckRequest("GET", "/api/documents"), outcome{status: 200, headers: anon}},
		{"anonymous reads published", extauthztest.NewCheckRequest("GET", "/api/documents/7?fields=title"), outcome{status: 200, headers: anon}},
		{"client identity headers are overwritten", extauthztest.NewCheckRequest("GET", "/api/documents/7", "x-gatehouse-principal", "carol", "x-gatehouse-roles", "admin"), outcome{status: 200, headers: anon}},
		{"anonymous cannot create", extauthztest.NewCheckRequest("POST", "/api/documents"), outcome{status: 403, reason: "policy_denied"}},
		{"user creates", extauthztest.WithBody(extauthztest.NewCheckRequest("POST", "/api/documents", "authorization", alice), `{"title": "t"}`), outcome{status: 200, headers: map[string]string{
			"x-gatehouse-principal": "alice", "x-gatehouse-roles": "user", "x-gatehouse-identity-source": "jwt", "x-gatehouse-email": "alice@example.com"}}},
		{"user creates internal", extauthztest.WithBody(extauthztest.NewCheckRequest("POST", "/api/documents", "authorization", alice), `{"classification": "internal"}`), outcome{status: 200}},
		{"user cannot create restricted", extauthztest.WithBody(extauthztest.NewCheckRequest("POST", "/api/documents", "authorization", alice), `{"classification": "restricted"}`), outcome{status: 403, reason: "policy_denied"}},
		{"user cannot create without a JSON body", extauthztest.NewCheckRequest("POST", "/api/documents", "authorization", alice), outcome{status: 403, reason: "policy_denied"}},
		{"admin creates restricted", extauthztest.WithBody(extauthztest.NewCheckRequest("POST", "/api/documents", "authorization", carol), `{"classification": "restricted"}`), outcome{status: 200}},
		{"Envoy's context extension names the kind", extauthztest.WithContextExtensions(extauthztest.NewCheckRequest("GET", "/api/documents/7"), "kind", "admin_area"), outcome{status: 403, reason: "policy_denied"}},
		{"owner updates", extauthztest.NewCheckRequest("PUT", "/api/users/alice/documents/3", "authorization", alice), outcome{status: 200, headers: map[string]string{"x-gatehouse-principal": "alice"}}},
		{"owner deletes", extauthztest.NewCheckRequest("DELETE", "/api/users/alice/documents/3", "authorization", alice), outcome{status: 200}},
		{"other user cannot update", extauthztest.NewCheckRequest("PUT", "/api/users/alice/documents/3", "authorization", bob), outcome{status: 403, reason: "policy_denied"}},
		{"other user cannot read drafts", extauthztest.NewCheckRequest("GET", "/api/users/alice/documents/3", "authorization", bob), outcome{status: 403, reason: "policy_denied"}},
		{"anonymous cannot read drafts", extauthztest.NewCheckRequest("GET", "/api/users/alice/documents", ""), outcome{status: 403, reason: "policy_denied"}},
		{"admin reads anyone's drafts", extauthztest.NewCheckRequest("GET", "/api/users/alice/documents/3", "authorization", carol), outcome{status: 200, headers: map[string]string{"x-gatehouse-roles": "admin,user"}}},
		{"admin area for admins", extauthztest.NewCheckRequest("POST", "/api/admin/users/9", "authorization", carol), outcome{status: 200}},
		{"admin area refused to users", extauthztest.NewCheckRequest("GET", "/api/admin/users", "authorization", alice), outcome{status: 403, reason: "policy_denied"}},
		{"expired token", extauthztest.NewCheckRequest("GET", "/api/documents", "authorization", token(t, "expired")), outcome{status: 401, reason: "invalid_token"}},
		{"garbage token", extauthztest.NewCheckRequest("GET", "/api/documents", "authorization", "Bearer not.a.token"), outcome{status: 401, reason: "invalid_token"}},
		{"basic credentials are not a bearer token", extauthztest.NewCheckRequest("GET", "/api/documents", "authorization", "Basic YWxpY2U6cHc="), outcome{status: 200, headers: anon}},
		{"reporter service reads reports", extauthztest.WithPeer(extauthztest.NewCheckRequest("GET", "/internal/reports/q3"), "spiffe://cluster.local/ns/reports/sa/reporter"),
			outcome{status: 200, headers: map[string]string{"x-gatehouse-principal": "spiffe://cluster.local/ns/reports/sa/reporter", "x-gatehouse-roles": "service", "x-gatehouse-identity-source": "spiffe"}}},
		{"other service cannot read reports", extauthztest.WithPeer(extauthztest.NewCheckRequest("GET", "/internal/reports/q3"), "spiffe://cluster.local/ns/shop/sa/cart"), outcome{status: 403, reason: "policy_denied"}},
		{"foreign trust domain is not a service", extauthztest.WithPeer(extauthztest.NewCheckRequest("GET", "/internal/reports/q3"), "spiffe://evil.example/ns/reports/sa/reporter"), outcome{status: 403, reason: "policy_denied"}},
		{"health is public", extauthztest.NewCheckRequest("GET", "/healthz"), outcome{status: 200}},
		{"no route", extauthztest.NewCheckRequest("GET", "/api/secrets"), outcome{status: 403, reason: "no_route"}},
		{"no action for method", extauthztest.NewCheckRequest("POST", "/api/users/alice/documents/3", "authorization", alice), outcome{status: 403, reason: "no_action"}},
		{"encoded slash", extauthztest.NewCheckRequest("GET", "/api/documents/1%2F..%2Fadmin"), outcome{status: 400, reason: "malformed_path"}},
		{"encoded dot segment", extauthztest.NewCheckRequest("GET", "/api/documents/%2e%2e/admin/x"), outcome{status: 400, reason: "malformed_path"}},
		{"dot segments resolve before routing", extauthztest.NewCheckRequest("GET", "/api/documents/1/../../admin/users", "authorization", alice), outcome{status: 403, reason: "policy_denied"}},
		{"raw header map", extauthztest.RawHeaders(extauthztest.NewCheckRequest("PUT", "/api/users/alice/documents/3", "authorization", alice)), outcome{status: 200, headers: map[string]string{"x-gatehouse-principal": "alice"}}},
		{"network filter request", extauthztest.NetworkRequest(), outcome{status: 403, reason: "non_http"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := client.Check(context.Background(), tt.req)
			if err != nil {
				t.Fatalf("Check: %v", err)
			}
			checkOutcome(t, resp, tt.want)
		})
	}
}

func TestFaultsAreRPCErrors(t *testing.T) {
	cfg := demoConfig(t)
	srv := NewServer(cfg, nil, nil)
	req := extauthztest.NewCheckRequest("GET", "/api/documents")
	if _, err := srv.Check(context.Background(), req); status.Code(err) != codes.Unavailable {
		t.Errorf("before policies are loaded: %v, want Unavailable", err)
	}
	svc, _, _ := startService(t, cfg)
	// A nil mapper makes the check panic: the panic must become an Internal error.
	broken := NewServer(cfg, nil, nil)
	broken.SetPolicies(svc.server.policies.Load())
	if _, err := broken.Check(context.Background(), req); status.Code(err) != codes.Internal {
		t.Errorf("after a panic: %v, want Internal", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := svc.Server().Check(ctx, req); status.Code(err) != codes.Canceled {
		t.Errorf("cancelled: %v, want Canceled", err)
	}
	ctx, cancel = context.WithTimeout(context.Background(), -time.Second)
	defer cancel()
	if _, err := svc.Server().Check(ctx, req); status.Code(err) != codes.DeadlineExceeded {
		t.Errorf("past deadline: %v, want DeadlineExceeded", err)
	}
}

func TestHealthAndShutdown(t *testing.T) {
	cfg := demoConfig(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	svc, err := New(ctx, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := grpc.NewClient(svc.GRPCAddr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	waitServing(t, conn)
	httpGet := func(path string) int {
		resp, err := httpClient.Get("http://" + svc.HTTPAddr().String() + path)
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := httpGet("/readyz"); got != 200 {
		t.Errorf("/readyz = %d, want 200", got)
	}
	if got := httpGet("/healthz"); got != 200 {
		t.Errorf("/healthz = %d, want 200", got)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Run did not return")
	}
	if _, err := authv3.NewAuthorizationClient(conn).Check(context.Background(), extauthztest.NewCheckRequest("GET", "/api/documents")); err == nil {
		t.Error("check after shutdown succeeded")
	}
}

func TestUnixSocket(t *testing.T) {
	cfg := demoConfig(t)
	cfg.Server.GRPC.Address = "unix:" + filepath.Join(t.TempDir(), "authz.sock")
	cfg.Server.HTTP.Disabled = true
	_, client, _ := startService(t, cfg)
	resp, err := client.Check(context.Background(), extauthztest.NewCheckRequest("GET", "/api/documents"))
	if err != nil {
		t.Fatal(err)
	}
	checkOutcome(t, resp, outcome{status: 200})
}

var httpClient = &http.Client{Timeout: 5 * time.Second}

// TestConcurrentChecks runs checks from many goroutines over one connection (run with
// -race): pooled mapping state and shared response values must not leak between checks.
func TestConcurrentChecks(t *testing.T) {
	_, client, _ := startService(t, demoConfig(t))
	alice, bob := token(t, "alice"), token(t, "bob")
	errs := make(chan error, 16)
	for g := 0; g < 8; g++ {
		go func(g int) {
			tok, user := alice, "alice"
			if g%2 == 1 {
				tok, user = bob, "bob"
			}
			for i := 0; i < 100; i++ {
				resp, err := client.Check(context.Background(), extauthztest.NewCheckRequest("PUT", "/api/users/"+user+"/documents/1", "authorization", tok))
				if err != nil {
					errs <- err
					return
				}
				got := ""
				for _, h := range resp.GetOkResponse().GetHeaders() {
					if h.GetHeader().GetKey() == "x-gatehouse-principal" {
						got = h.GetHeader().GetValue()
					}
				}
				if got != user {
					errs <- fmt.Errorf("goroutine %d: principal %q, want %q", g, got, user)
					return
				}
			}
			errs <- nil
		}(g)
	}
	for g := 0; g < 8; g++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}
