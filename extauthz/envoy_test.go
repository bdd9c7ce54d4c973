package extauthz

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/extauthz/internal/envoytest"
)

// upstream records the requests that reach the app behind Envoy.
type upstream struct {
	mu   sync.Mutex
	seen []http.Header
	srv  *httptest.Server
}

func newUpstream(t *testing.T) *upstream {
	u := &upstream{}
	u.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.mu.Lock()
		h := r.Header.Clone()
		h.Set("x-test-path", r.URL.RawPath+"|"+r.URL.Path)
		u.seen = append(u.seen, h)
		u.mu.Unlock()
		io.WriteString(w, "app")
	}))
	t.Cleanup(u.srv.Close)
	return u
}

func (u *upstream) requests() []http.Header {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]http.Header(nil), u.seen...)
}

// TestThroughRealEnvoy puts real Envoy (ext_authz filter, gRPC, V3) in front of gatehouse
// and an app, and shows an allow that reaches the app with gatehouse's identity headers,
// a 401 and a 403 with gatehouse's body, and client-sent identity headers never arriving.
func TestThroughRealEnvoy(t *testing.T) {
	envoytest.RequireEnvoy(t)
	svc, _, _ := startService(t, demoConfig(t))
	app := newUpstream(t)
	envoy := envoytest.Start(t, envoytest.Config{
		AuthzTarget: svc.GRPCAddr().String(),
		Upstream:    strings.TrimPrefix(app.srv.URL, "http://"),
		ExtAuthz: envoytest.ExtAuthz{
			StatusOnError:   503,
			WithRequestBody: &envoytest.BodySettings{MaxRequestBytes: 64 << 10},
		},
	})
	alice, expired := token(t, "alice"), token(t, "expired")
	client := &http.Client{Timeout: 10 * time.Second}
	do := func(method, path string, headers ...string) (int, http.Header, string) {
		t.Helper()
		req, err := http.NewRequest(method, envoy.URL()+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Host = "docs.example.com"
		for i := 0; i+1 < len(headers); i += 2 {
			req.Header.Add(headers[i], headers[i+1])
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header, string(body)
	}

	// Allow: the app is reached and sees gatehouse's headers, not the client's copies.
	status, _, body := do("PUT", "/api/users/alice/documents/3", "authorization", alice,
		"x-gatehouse-principal", "carol", "x-gatehouse-roles", "admin", "x-envoy-auth-failure-mode-allowed", "true")
	if status != 200 || body != "app" {
		t.Fatalf("allow: %d %q", status, body)
	}
	seen := app.requests()
	if len(seen) != 1 {
		t.Fatalf("app saw %d requests", len(seen))
	}
	h := seen[0]
	for name, want := range map[string][]string{
		"X-Gatehouse-Principal":       {"alice"},
		"X-Gatehouse-Roles":           {"user"},
		"X-Gatehouse-Identity-Source": {"jwt"},
		"X-Gatehouse-Email":           {"alice@example.com"},
	} {
		if got := h.Values(name); strings.Join(got, "|") != strings.Join(want, "|") {
			t.Errorf("app saw %s = %q, want %q", name, got, want)
		}
	}
	if got := h.Values("X-Envoy-Auth-Failure-Mode-Allowed"); len(got) != 0 {
		t.Errorf("app saw a client-sent fail-open marker: %q", got)
	}
	decisionID := h.Get("X-Gatehouse-Decision-Id")
	if len(decisionID) != 32 {
		t.Errorf("decision id %q", decisionID)
	}

	// Anonymous access keeps no client-sent identity either.
	if status, _, _ := do("GET", "/api/documents/7", "x-gatehouse-principal", "carol", "x-gatehouse-email", "carol@example.com"); status != 200 {
		t.Fatalf("anonymous read: %d", status)
	}
	h = app.requests()[1]
	if h.Get("X-Gatehouse-Principal") != "anonymous" || len(h.Values("X-Gatehouse-Email")) != 0 {
		t.Errorf("anonymous request reached the app with %v", h)
	}

	// 401: invalid credentials, with WWW-Authenticate and gatehouse's body.
	status, respHeaders, body := do("GET", "/api/documents", "authorization", expired)
	var deny denyBody
	if status != 401 || respHeaders.Get("WWW-Authenticate") == "" || json.Unmarshal([]byte(body), &deny) != nil || deny.Reason != "invalid_token" {
		t.Errorf("expired token: %d %v %q", status, respHeaders, body)
	}
	if strings.Contains(body, "eyJ") {
		t.Errorf("the deny body echoes the token: %s", body)
	}

	// 403: a policy denial, with gatehouse's body and decision id; the app is not reached.
	status, respHeaders, body = do("PUT", "/api/users/bob/documents/3", "authorization", alice)
	if status != 403 || json.Unmarshal([]byte(body), &deny) != nil || deny.Reason != "policy_denied" ||
		respHeaders.Get("X-Gatehouse-Decision-Id") != deny.DecisionID || respHeaders.Get("Content-Type") != "application/json" {
		t.Errorf("policy deny: %d %v %q", status, respHeaders, body)
	}

	// 400: a path the app would route differently.
	if status, _, body := do("GET", "/api/documents/1%2F..%2F..%2Fadmin%2Fusers"); status != 400 || !strings.Contains(body, "malformed_path") {
		t.Errorf("encoded slashes: %d %q", status, body)
	}
	if n := len(app.requests()); n != 2 {
		t.Errorf("the app saw %d requests, want only the 2 allowed ones", n)
	}

	// Envoy's own accounting agrees, and its access log carries our decision ids.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := envoy.WaitStat(ctx, "http.ingress.ext_authz.denied", 3); err != nil {
		t.Errorf("denied counter: %v", err)
	}
	stats, err := envoy.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if stats["http.ingress.ext_authz.ok"] != 2 || stats["http.ingress.ext_authz.error"] != 0 {
		t.Errorf("ext_authz stats: ok=%d error=%d", stats["http.ingress.ext_authz.ok"], stats["http.ingress.ext_authz.error"])
	}
	entries, err := envoy.WaitAccessLog(ctx, 5)
	if err != nil {
		t.Fatal(err)
	}
	if got := entries[0].ExtAuthz["decision_id"]; got != decisionID {
		t.Errorf("access log decision id %v, want %s", got, decisionID)
	}
}
