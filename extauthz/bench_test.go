package extauthz

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"

	"github.com/gatehouse/gatehouse/extauthz/internal/decisionlog"
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
				cfg, sampled := telemetryConfig(b, mode)
				benchmarkCheck(b, cfg, path == "grpc", sampled)
			})
		}
	}
}

// telemetryConfig is the demo configuration with telemetry off, on or on-traced (see
// BenchmarkCheckTelemetry), or with only metrics, the decision log or tracing on; and how
// many of every ten requests Envoy samples.
func telemetryConfig(b *testing.B, mode string) (cfg *Config, sampled int) {
	cfg = demoConfig(b)
	metrics, dlog, tracing := true, true, true
	switch mode {
	case "off":
		metrics, dlog, tracing = false, false, false
	case "metrics":
		dlog, tracing = false, false
	case "decisionlog":
		metrics, tracing = false, false
	case "tracing":
		metrics, dlog = false, false
	}
	cfg.Telemetry.Metrics.Disabled = !metrics
	if dlog {
		cfg.Telemetry.DecisionLog = DecisionLogConfig{Enabled: true, Output: filepath.Join(b.TempDir(), "decisions.log")}
	}
	if !tracing {
		return cfg, 0
	}
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
	}))
	b.Cleanup(receiver.Close)
	b.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.URL) // read when the service starts
	if mode == "on-traced" {
		return cfg, 10
	}
	return cfg, 1
}

// BenchmarkCheckTelemetryPaired measures the overhead of telemetry on a shared, noisy
// machine, where the speed of the same code drifts by ±20 % from one second to the next:
// a service with telemetry off and one with it on run side by side in the process, and
// the checks alternate between them in blocks of 100, each block timed by the CPU the
// process used. The background work of the on service (span export, decision-log writing)
// runs only when an on block asks for it, after every 1,000 of its checks (the decision
// log's flush interval is set out of the way), so it is counted where it belongs.
// Reported: the CPU per check of each and the overhead in percent. "on" is
// BenchmarkCheckTelemetry's; "metrics", "decisionlog" and "tracing" turn on one part only;
// "control" compares two services with telemetry off, which shows the method's own error.
//
//	go test -run '^$' -bench CheckTelemetryPaired -cpu 1 -benchtime 200000x ./extauthz
func BenchmarkCheckTelemetryPaired(b *testing.B) {
	for _, path := range []string{"inprocess", "grpc"} {
		for _, mode := range []string{"on", "metrics", "decisionlog", "tracing", "control"} {
			b.Run(path+"/"+mode, func(b *testing.B) {
				benchmarkPaired(b, path == "grpc", mode)
			})
		}
	}
}

// pairedBlock is how many checks go to one service before the other takes over;
// pairedFlush is how many checks of the on service run between two flushes of its
// background work (the span processor exports batches of 512 spans, and at 10 % sampling
// 1,000 checks make 400).
const (
	pairedBlock = 100
	pairedFlush = 1000
)

func benchmarkPaired(b *testing.B, overGRPC bool, mode string) {
	offCfg, _ := telemetryConfig(b, "off")
	off, _ := startCheck(b, offCfg, overGRPC)
	if mode == "control" {
		mode = "off"
	}
	onCfg, sampled := telemetryConfig(b, mode)
	onCfg.Telemetry.DecisionLog.FlushInterval = decisionlog.MaxFlushInterval
	on, onSvc := startCheck(b, onCfg, overGRPC)
	reqs := benchRequests(b, sampled)
	ctx := context.Background()
	var cpu [2]time.Duration
	var n [2]int
	b.ResetTimer()
	blockStart := processCPU()
	which := 0
	endBlock := func(last bool) {
		if which == 1 && (n[1]%pairedFlush == 0 || last) {
			if err := onSvc.tel.flush(ctx); err != nil {
				b.Fatal(err)
			}
		}
		now := processCPU()
		cpu[which] += now - blockStart
		blockStart = now
	}
	for i := 0; b.Loop(); i++ {
		if i > 0 && i%pairedBlock == 0 {
			endBlock(false)
			which = 1 - which
		}
		check := off
		if which == 1 {
			check = on
		}
		if _, err := check(ctx, reqs[i%len(reqs)]); err != nil {
			b.Fatal(err)
		}
		n[which]++
	}
	endBlock(true)
	if n[0] == 0 || n[1] == 0 || cpu[0] <= 0 {
		return // too few checks for both
	}
	perOff, perOn := float64(cpu[0])/float64(n[0]), float64(cpu[1])/float64(n[1])
	b.ReportMetric(perOff, "off-cpu-ns/op")
	b.ReportMetric(perOn, "on-cpu-ns/op")
	b.ReportMetric(100*(perOn/perOff-1), "overhead-%")
}

// startCheck serves cfg and returns its Check, in process or through a gRPC client, and
// the service.
func startCheck(b *testing.B, cfg *Config, overGRPC bool) (func(context.Context, *authv3.CheckRequest) (*authv3.CheckResponse, error), *Service) {
	svc, client, _ := startService(b, cfg)
	if overGRPC {
		return func(ctx context.Context, req *authv3.CheckRequest) (*authv3.CheckResponse, error) {
			return client.Check(ctx, req)
		}, svc
	}
	return svc.Server().Check, svc
}

// benchRequests are ten benchRequests, of which sampled carry a sampled traceparent and
// the others an unsampled one.
func benchRequests(b *testing.B, sampled int) []*authv3.CheckRequest {
	reqs := make([]*authv3.CheckRequest, 10)
	for i := range reqs {
		reqs[i] = benchRequest(b)
		if i >= sampled {
			reqs[i].Attributes.Request.Http.Headers["traceparent"] = traceparent[:len(traceparent)-2] + "00"
		}
	}
	return reqs
}

// benchmarkCheck sends benchRequests repeatedly, in process or over gRPC.
func benchmarkCheck(b *testing.B, cfg *Config, overGRPC bool, sampled int) {
	check, _ := startCheck(b, cfg, overGRPC)
	reqs := benchRequests(b, sampled)
	ctx := context.Background()
	if resp, err := check(ctx, reqs[0]); err != nil || resp.GetOkResponse() == nil {
		b.Fatalf("not an allow: %v %v", resp, err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	cpu := processCPU()
	i := 0
	for b.Loop() {
		if _, err := check(ctx, reqs[i%len(reqs)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
	// CPU per check of the whole process (server, client, background writers).
	if used := processCPU() - cpu; used > 0 && i > 0 {
		b.ReportMetric(float64(used.Nanoseconds())/float64(i), "cpu-ns/op")
	}
}
