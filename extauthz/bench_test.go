package extauthz

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"

	"github.com/gatehouse/gatehouse/extauthz/internal/extauthztest"
)

// benchRequest is an allowed update by alice with a cached token, under Envoy's trace.
func benchRequest(b *testing.B) *authv3.CheckRequest {
	return extauthztest.NewCheckRequest("PUT", "/api/users/alice/documents/3", "authorization", token(b, "alice"),
		"accept", "application/json", "user-agent", "python-requests/2.32", "x-request-id", "5f2c6c1e-4c1a-4d1f-9a6e-6d3c0f1e2a7b",
		"x-forwarded-proto", "https", "traceparent", traceparent)
}

// BenchmarkCheck runs the whole Check path in process (no gRPC): mapping with a cached
// JWT, the policy decision and the response, with telemetry off. Run:
//
//	go test -run '^$' -bench 'Check$' -benchmem ./extauthz
func BenchmarkCheck(b *testing.B) {
	benchmarkCheck(b, demoConfig(b), false, 0)
}

// BenchmarkCheckTelemetry compares checks with telemetry off (no metrics, no tracing, no
// decision log) and fully on: Prometheus metrics, the decision log at 100 % to a file, and
// tracing exported over OTLP/HTTP to a local receiver, for requests that Envoy sampled at
// 10 % ("on": one request in ten carries a sampled traceparent, the others an unsampled
// one) or at 100 % ("on-traced": every check records four spans). Each runs in process and
// over loopback gRPC (client in the same process). Run with -cpu 1, so that ns/op is all
// the CPU a check costs, the span exporter and decision-log writer included:
//
//	go test -run '^$' -bench CheckTelemetry -benchmem -cpu 1 -count 5 ./extauthz
func BenchmarkCheckTelemetry(b *testing.B) {
	for _, path := range []string{"inprocess", "grpc"} {
		for _, mode := range []string{"off", "on", "on-traced"} {
			b.Run(path+"/"+mode, func(b *testing.B) {
				cfg := demoConfig(b)
				sampled := 0
				switch mode {
				case "off":
					cfg.Telemetry.Metrics.Disabled = true
				case "on", "on-traced":
					receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
						_, _ = io.Copy(io.Discard, r.Body)
					}))
					b.Cleanup(receiver.Close)
					b.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.URL)
					cfg.Telemetry.DecisionLog = DecisionLogConfig{Enabled: true, Output: filepath.Join(b.TempDir(), "decisions.log")}
					sampled = 1
					if mode == "on-traced" {
						sampled = 10
					}
				}
				benchmarkCheck(b, cfg, path == "grpc", sampled)
			})
		}
	}
}

// benchmarkCheck sends benchRequest repeatedly, in process or over gRPC. Of every ten
// requests, sampled carry a sampled traceparent and the others an unsampled one.
func benchmarkCheck(b *testing.B, cfg *Config, overGRPC bool, sampled int) {
	svc, client, _ := startService(b, cfg)
	check := svc.Server().Check
	if overGRPC {
		check = func(ctx context.Context, req *authv3.CheckRequest) (*authv3.CheckResponse, error) {
			return client.Check(ctx, req)
		}
	}
	var reqs [10]*authv3.CheckRequest
	for i := range reqs {
		reqs[i] = benchRequest(b)
		if i >= sampled {
			reqs[i].Attributes.Request.Http.Headers["traceparent"] = traceparent[:len(traceparent)-2] + "00"
		}
	}
	ctx := context.Background()
	if resp, err := check(ctx, reqs[0]); err != nil || resp.GetOkResponse() == nil {
		b.Fatalf("not an allow: %v %v", resp, err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		if _, err := check(ctx, reqs[i%len(reqs)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
