package extauthz

import (
	"context"
	"testing"

	"github.com/gatehouse/gatehouse/extauthz/internal/extauthztest"
)

// BenchmarkCheck runs the whole Check path in process (no gRPC): mapping with a cached
// JWT, the policy decision and the response. Run:
//
//	go test -run '^$' -bench Check -benchmem ./extauthz
func BenchmarkCheck(b *testing.B) {
	svc, _, _ := startService(b, demoConfig(b))
	srv := svc.Server()
	req := extauthztest.NewCheckRequest("PUT", "/api/users/alice/documents/3", "authorization", token(b, "alice"),
		"accept", "application/json", "user-agent", "python-requests/2.32", "x-request-id", "5f2c6c1e-4c1a-4d1f-9a6e-6d3c0f1e2a7b",
		"x-forwarded-proto", "https", "traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	ctx := context.Background()
	if resp, err := srv.Check(ctx, req); err != nil || resp.GetOkResponse() == nil {
		b.Fatalf("not an allow: %v %v", resp, err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := srv.Check(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
}
