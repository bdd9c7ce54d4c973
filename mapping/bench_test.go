package mapping

import (
	"context"
	"os"
	"strings"
	"testing"
)

// BenchmarkMap maps a typical request: a verified (cached) bearer token, a path template,
// ~15 headers, resource attributes from path parameters. Budget: ≤ 2 µs. Run:
//
//	go test -run '^$' -bench Map -benchmem ./mapping
func BenchmarkMap(b *testing.B) {
	tok, err := os.ReadFile("../envoy/demo/tokens/alice.jwt")
	if err != nil {
		b.Skip(err)
	}
	m := mustMapper(b, Config{
		Identity: IdentityConfig{Sources: []Source{
			{JWT: &JWTSource{
				JWKS:       JWKSConfig{File: "../envoy/demo/keys/jwks.json"},
				Issuers:    []string{"https://auth.demo.gatehouse.local"},
				Audiences:  []string{"documents-api"},
				Algorithms: []string{"ES256"},
				Principal:  PrincipalExprs{ID: "claims.sub", Roles: "claims.roles", Attr: map[string]string{"email": "claims.email"}},
			}},
			{Anonymous: &AnonymousSource{}},
		}},
		Routes: []Route{
			{Match: RouteMatch{Template: "/api/documents/{id}", Methods: []string{"GET"}}, Resource: ResourceExprs{Kind: "document"}},
			{Match: RouteMatch{Template: "/api/users/{user}/documents/{id}"},
				Resource: ResourceExprs{Kind: "document", Attr: map[string]string{"owner": "params.user", "published": "false"}},
				Actions:  map[string]string{"GET": "read", "PUT": "update", "DELETE": "delete"}},
		},
	})
	req := newRequest("PUT", "/api/users/alice/documents/3?draft=1",
		"authorization", "Bearer "+strings.TrimSpace(string(tok)),
		"accept", "application/json", "accept-encoding", "gzip, deflate", "content-type", "application/json",
		"content-length", "42", "user-agent", "python-requests/2.32", "x-request-id", "5f2c6c1e-4c1a-4d1f-9a6e-6d3c0f1e2a7b",
		"x-forwarded-proto", "https", "x-forwarded-for", "203.0.113.9", "x-envoy-expected-rq-timeout-ms", "15000",
		"traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "cookie", "session=abc")
	ctx := context.Background()
	if res, err := m.Map(ctx, req); err != nil || res.Input.Principal.ID != "alice" {
		b.Fatalf("Map: %+v %v", res, err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		res, err := m.Map(ctx, req)
		if err != nil {
			b.Fatal(err)
		}
		res.Release()
	}
}
