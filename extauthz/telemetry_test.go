package extauthz

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	"github.com/gatehouse/gatehouse/extauthz/internal/extauthztest"
)

// Envoy's trace, as its tracer would propagate it to the ext_authz call.
const (
	envoyTraceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	envoySpanID  = "00f067aa0ba902b7"
	traceparent  = "00-" + envoyTraceID + "-" + envoySpanID + "-01"
)

// recordSpans returns a tracer provider whose ended spans the recorder keeps.
func recordSpans(t *testing.T) (*sdktrace.TracerProvider, *tracetest.SpanRecorder) {
	t.Helper()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	return tp, rec
}

// spanNamed returns the only ended span of that name.
func spanNamed(t *testing.T, spans []sdktrace.ReadOnlySpan, name string) sdktrace.ReadOnlySpan {
	t.Helper()
	var found []sdktrace.ReadOnlySpan
	for _, s := range spans {
		if s.Name() == name {
			found = append(found, s)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d spans named %s, want 1 (of %d spans)", len(found), name, len(spans))
	}
	return found[0]
}

func spanAttrs(s sdktrace.ReadOnlySpan) map[string]attribute.Value {
	m := map[string]attribute.Value{}
	for _, kv := range s.Attributes() {
		m[string(kv.Key)] = kv.Value
	}
	return m
}

func decisionIDOf(resp *authv3.CheckResponse) string {
	return resp.GetDynamicMetadata().GetFields()["decision_id"].GetStringValue()
}

func TestCheckSpanContinuesEnvoyTrace(t *testing.T) {
	tp, rec := recordSpans(t)
	_, client, _ := startService(t, demoConfig(t), WithTracerProvider(tp))
	alice := token(t, "alice")

	tests := []struct {
		name    string
		headers []string
		state   string // the tracestate the parent carries
	}{
		{"W3C trace context", []string{"traceparent", traceparent, "tracestate", "envoy=1,vendor=x"}, "envoy=1,vendor=x"},
		{"B3 multiple headers", []string{"x-b3-traceid", envoyTraceID, "x-b3-spanid", envoySpanID, "x-b3-sampled", "1"}, ""},
		{"B3 single header", []string{"b3", envoyTraceID + "-" + envoySpanID + "-1"}, ""},
		{"W3C wins over B3", []string{"traceparent", traceparent, "x-b3-traceid", "11111111111111111111111111111111", "x-b3-spanid", "2222222222222222", "x-b3-sampled", "1"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec.Reset()
			headers := append([]string{"authorization", alice}, tt.headers...)
			resp, err := client.Check(context.Background(), extauthztest.NewCheckRequest("PUT", "/api/users/alice/documents/3", headers...))
			if err != nil || resp.GetOkResponse() == nil {
				t.Fatalf("want allow: %v %v", resp, err)
			}
			spans := rec.Ended()
			check := spanNamed(t, spans, "gatehouse.check")
			parent := check.Parent()
			if parent.TraceID().String() != envoyTraceID || parent.SpanID().String() != envoySpanID || !parent.IsRemote() {
				t.Errorf("parent %s/%s (remote %v), want Envoy's %s/%s", parent.TraceID(), parent.SpanID(), parent.IsRemote(), envoyTraceID, envoySpanID)
			}
			if check.SpanContext().TraceID().String() != envoyTraceID {
				t.Errorf("check span in trace %s, want %s", check.SpanContext().TraceID(), envoyTraceID)
			}
			if got := parent.TraceState().String(); got != tt.state {
				t.Errorf("parent tracestate %q, want %q", got, tt.state)
			}
			if check.SpanKind() != trace.SpanKindServer {
				t.Errorf("check span kind %v, want server", check.SpanKind())
			}
			attrs := spanAttrs(check)
			want := map[string]string{
				"gatehouse.decision": "allow", "gatehouse.reason": "allowed", "gatehouse.resource.kind": "document",
				"gatehouse.action": "update", "gatehouse.decision_id": decisionIDOf(resp), "gatehouse.route": "user-document",
			}
			for k, v := range want {
				if got := attrs[k].AsString(); got != v {
					t.Errorf("span attribute %s = %q, want %q", k, got, v)
				}
			}
			if attrs["gatehouse.policy"].AsString() == "" || attrs["gatehouse.rule"].AsString() == "" {
				t.Errorf("span lacks the matched policy and rule: %v", attrs)
			}
			if _, ok := attrs["gatehouse.principal.id"]; ok {
				t.Error("principal id on the span although tracing.principalId is off")
			}
			for _, name := range []string{"gatehouse.map", "gatehouse.evaluate", "gatehouse.jwt.verify"} {
				child := spanNamed(t, spans, name)
				if child.Parent().SpanID() == check.SpanContext().SpanID() {
					continue
				}
				// JWT verification happens while mapping.
				if name == "gatehouse.jwt.verify" && child.Parent().SpanID() == spanNamed(t, spans, "gatehouse.map").SpanContext().SpanID() {
					continue
				}
				t.Errorf("span %s has parent %s, not the check (%s) or the mapping", name, child.Parent().SpanID(), check.SpanContext().SpanID())
			}
		})
	}

	t.Run("no incoming trace starts one", func(t *testing.T) {
		rec.Reset()
		if _, err := client.Check(context.Background(), extauthztest.NewCheckRequest("GET", "/api/documents")); err != nil {
			t.Fatal(err)
		}
		check := spanNamed(t, rec.Ended(), "gatehouse.check")
		if check.Parent().IsValid() || !check.SpanContext().IsValid() {
			t.Errorf("want a root span, got parent %v", check.Parent())
		}
	})

	t.Run("unsampled parent records nothing", func(t *testing.T) {
		rec.Reset()
		req := extauthztest.NewCheckRequest("GET", "/api/documents", "traceparent", "00-"+envoyTraceID+"-"+envoySpanID+"-00")
		if _, err := client.Check(context.Background(), req); err != nil {
			t.Fatal(err)
		}
		if n := len(rec.Ended()); n != 0 {
			t.Errorf("%d spans recorded under an unsampled parent", n)
		}
	})

	t.Run("denial", func(t *testing.T) {
		rec.Reset()
		req := extauthztest.NewCheckRequest("PUT", "/api/users/alice/documents/3", "authorization", token(t, "bob"), "traceparent", traceparent)
		if _, err := client.Check(context.Background(), req); err != nil {
			t.Fatal(err)
		}
		attrs := spanAttrs(spanNamed(t, rec.Ended(), "gatehouse.check"))
		if attrs["gatehouse.decision"].AsString() != "deny" || attrs["gatehouse.reason"].AsString() != "policy_denied" || attrs["http.response.status_code"].AsInt64() != 403 {
			t.Errorf("denial span attributes %v", attrs)
		}
	})
}

func TestCheckSpanPrincipalIDWhenConfigured(t *testing.T) {
	tp, rec := recordSpans(t)
	cfg := demoConfig(t)
	cfg.Telemetry.Tracing.PrincipalID = true
	_, client, _ := startService(t, cfg, WithTracerProvider(tp))
	req := extauthztest.NewCheckRequest("PUT", "/api/users/alice/documents/3", "authorization", token(t, "alice"), "traceparent", traceparent)
	if _, err := client.Check(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	if got := spanAttrs(spanNamed(t, rec.Ended(), "gatehouse.check"))["gatehouse.principal.id"].AsString(); got != "alice" {
		t.Errorf("principal id on span %q, want alice", got)
	}
}

// collect reads every metric from the reader, by name.
func collect(t *testing.T, r sdkmetric.Reader) map[string]metricdata.Metrics {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := r.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	out := map[string]metricdata.Metrics{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			out[m.Name] = m
		}
	}
	return out
}

// sumByAttrs maps each attribute set of an int64 sum (rendered k=v,...) to its value.
func sumByAttrs(t *testing.T, m metricdata.Metrics) map[string]int64 {
	t.Helper()
	sum, ok := m.Data.(metricdata.Sum[int64])
	if !ok {
		t.Fatalf("%s is %T, not an int64 sum", m.Name, m.Data)
	}
	out := map[string]int64{}
	for _, dp := range sum.DataPoints {
		out[dp.Attributes.Encoded(attribute.DefaultEncoder())] += dp.Value
	}
	return out
}

func histogramCount(t *testing.T, m metricdata.Metrics, attrs string) uint64 {
	t.Helper()
	h, ok := m.Data.(metricdata.Histogram[float64])
	if !ok {
		t.Fatalf("%s is %T, not a float64 histogram", m.Name, m.Data)
	}
	for _, dp := range h.DataPoints {
		if dp.Attributes.Encoded(attribute.DefaultEncoder()) == attrs {
			return dp.Count
		}
	}
	return 0
}

func TestMetricsMove(t *testing.T) {
	svc, client, _ := startService(t, demoConfig(t))
	reader := svc.tel.reader // what /metrics serves
	alice, bob := token(t, "alice"), token(t, "bob")
	send := func(n int, req *authv3.CheckRequest) {
		t.Helper()
		for range n {
			if _, err := client.Check(context.Background(), req); err != nil {
				t.Fatal(err)
			}
		}
	}
	send(3, extauthztest.NewCheckRequest("PUT", "/api/users/alice/documents/3", "authorization", alice))
	send(2, extauthztest.NewCheckRequest("PUT", "/api/users/alice/documents/3", "authorization", bob))
	send(1, extauthztest.NewCheckRequest("GET", "/api/documents", "authorization", token(t, "expired")))
	send(1, extauthztest.NewCheckRequest("GET", "/api/secrets"))

	m := collect(t, reader)
	checks := sumByAttrs(t, m["gatehouse.checks"])
	for attrs, want := range map[string]int64{
		"action=update,decision=allow,reason=allowed,resource_kind=document":      3,
		"action=update,decision=deny,reason=policy_denied,resource_kind=document": 2,
		"action=,decision=deny,reason=invalid_token,resource_kind=":               1,
		"action=,decision=deny,reason=no_route,resource_kind=":                    1,
	} {
		if checks[attrs] != want {
			t.Errorf("gatehouse.checks{%s} = %d, want %d (all: %v)", attrs, checks[attrs], want, checks)
		}
	}
	if n := histogramCount(t, m["gatehouse.check.duration"], "decision=allow"); n != 3 {
		t.Errorf("gatehouse.check.duration{decision=allow} count %d, want 3", n)
	}
	if n := histogramCount(t, m["gatehouse.check.duration"], "decision=deny"); n != 4 {
		t.Errorf("gatehouse.check.duration{decision=deny} count %d, want 4", n)
	}
	if got := sumByAttrs(t, m["gatehouse.checks.in_flight"])[""]; got != 0 {
		t.Errorf("in-flight checks %d after all returned", got)
	}
	tokens := sumByAttrs(t, m["gatehouse.jwt.verifications"])
	if tokens["cached=false,outcome=valid"]+tokens["cached=true,outcome=valid"] != 5 || tokens["cached=false,outcome=expired"] != 1 {
		t.Errorf("gatehouse.jwt.verifications %v, want 5 valid and 1 expired", tokens)
	}
	if loads := sumByAttrs(t, m["gatehouse.jwks.loads"]); loads[`result=success,source=JWKS file "../envoy/demo/keys/jwks.json"`] != 1 {
		t.Errorf("gatehouse.jwks.loads %v, want a successful file load", loads)
	}
	if loads := sumByAttrs(t, m["gatehouse.policy.loads"]); loads["result=success"] != 1 {
		t.Errorf("gatehouse.policy.loads %v", loads)
	}
	gauge, ok := m["gatehouse.policy.set"].Data.(metricdata.Gauge[int64])
	if !ok || len(gauge.DataPoints) != 1 {
		t.Fatalf("gatehouse.policy.set: %#v", m["gatehouse.policy.set"].Data)
	}
	set := svc.Server().policies.Load()
	if h, _ := gauge.DataPoints[0].Attributes.Value("hash"); h.AsString() != set.Hash() || gauge.DataPoints[0].Value != int64(set.PolicyCount()) {
		t.Errorf("gatehouse.policy.set %v = %d, want hash %s and %d policies", gauge.DataPoints[0].Attributes, gauge.DataPoints[0].Value, set.Hash(), set.PolicyCount())
	}
	rpcAttrs := "rpc.method=envoy.service.auth.v3.Authorization/Check,rpc.response.status_code=OK,rpc.system.name=grpc"
	if n := histogramCount(t, m["rpc.server.call.duration"], rpcAttrs); n != 7 {
		t.Errorf("rpc.server.call.duration{%s} count %d, want 7", rpcAttrs, n)
	}
	// startService waited for SERVING with health checks.
	healthAttrs := "rpc.method=grpc.health.v1.Health/Check,rpc.response.status_code=OK,rpc.system.name=grpc"
	if n := histogramCount(t, m["rpc.server.call.duration"], healthAttrs); n < 1 {
		t.Errorf("rpc.server.call.duration{%s} count %d, want at least 1", healthAttrs, n)
	}
}

// TestMetricLabelsStayBounded sends 10,000 checks with random paths, ids, methods, kinds
// (context_extensions feed kindExpr) and tokens: the label sets must stay few, and no label
// value may be request data beyond the bounded kinds.
func TestMetricLabelsStayBounded(t *testing.T) {
	svc, _, _ := startService(t, demoConfig(t))
	reader := svc.tel.reader
	srv := svc.Server()
	rng := rand.New(rand.NewPCG(1, 2))
	alice := token(t, "alice")
	methods := []string{"GET", "PUT", "POST", "DELETE", "PATCH"}
	word := func() string { return fmt.Sprintf("r%08x", rng.Uint32()) }
	var sent []string
	for i := range 10000 {
		var req *authv3.CheckRequest
		id := word()
		sent = append(sent, id)
		method := methods[rng.IntN(len(methods))]
		switch i % 4 {
		case 0:
			req = extauthztest.NewCheckRequest(method, "/api/users/"+word()+"/documents/"+id, "authorization", alice)
		case 1:
			req = extauthztest.WithContextExtensions(extauthztest.NewCheckRequest(method, "/api/documents/"+id), "kind", "k"+id)
		case 2:
			req = extauthztest.NewCheckRequest(method, "/"+id+"/"+word(), "authorization", "Bearer "+id)
		default:
			req = extauthztest.NewCheckRequest(method, "/api/documents?"+id+"="+word(), "x-request-id", id)
		}
		if _, err := srv.Check(context.Background(), req); err != nil {
			t.Fatal(err)
		}
	}
	sum, ok := collect(t, reader)["gatehouse.checks"].Data.(metricdata.Sum[int64])
	if !ok {
		t.Fatal("no gatehouse.checks")
	}
	kinds := map[string]bool{}
	var total int64
	for _, dp := range sum.DataPoints {
		total += dp.Value
		kind, _ := dp.Attributes.Value("resource_kind")
		kinds[kind.AsString()] = true
		for _, kv := range dp.Attributes.ToSlice() {
			if kv.Key == "resource_kind" {
				continue // kinds from context_extensions are request data, bounded below
			}
			for _, s := range sent {
				if strings.Contains(kv.Value.AsString(), s) {
					t.Fatalf("label %s=%q carries request data", kv.Key, kv.Value.AsString())
				}
			}
		}
	}
	if total != 10000 {
		t.Errorf("%d checks counted, want 10000", total)
	}
	if len(kinds) > maxLabelValues+1 || !kinds["other"] {
		t.Errorf("%d distinct resource_kind values (other counted: %v), want at most %d", len(kinds), kinds["other"], maxLabelValues+1)
	}
	// Decisions × reasons × (kinds + other) × actions is the bound; in practice far fewer.
	if len(sum.DataPoints) > 3*(maxLabelValues+1)*4 {
		t.Errorf("%d label sets on gatehouse.checks", len(sum.DataPoints))
	}
	t.Logf("10000 random checks: %d label sets, %d resource kinds", len(sum.DataPoints), len(kinds))
}

func TestMetricsEndpoint(t *testing.T) {
	svc, client, _ := startService(t, demoConfig(t))
	if _, err := client.Check(context.Background(), extauthztest.NewCheckRequest("GET", "/api/documents")); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get("http://" + svc.HTTPAddr().String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("GET /metrics: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	hash := svc.Server().policies.Load().Hash()
	for _, want := range []string{
		`gatehouse_checks_total{action="list",decision="allow",reason="allowed",resource_kind="document"} 1`,
		`gatehouse_check_duration_seconds_bucket{decision="allow",le="+Inf"} 1`,
		`gatehouse_checks_in_flight 0`,
		`gatehouse_policy_loads_total{result="success"} 1`,
		`gatehouse_policy_set{hash="` + hash + `"}`,
		`rpc_server_call_duration_seconds_count{rpc_method="envoy.service.auth.v3.Authorization/Check",rpc_response_status_code="OK",rpc_system_name="grpc"} 1`,
		`go_goroutine_count `,
		`go_memory_used_bytes`,
		`target_info{service_name="gatehouse"`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if t.Failed() {
		t.Logf("/metrics:\n%s", body)
	}
}

func TestMetricsDisabled(t *testing.T) {
	cfg := demoConfig(t)
	cfg.Telemetry.Metrics.Disabled = true
	svc, _, _ := startService(t, cfg)
	resp, err := http.Get("http://" + svc.HTTPAddr().String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /metrics with metrics disabled: %d, want 404", resp.StatusCode)
	}
}

// traceSink keeps the OTLP export requests it receives, over HTTP or gRPC.
type traceSink struct {
	coltracepb.UnimplementedTraceServiceServer
	mu  sync.Mutex
	got []*coltracepb.ExportTraceServiceRequest
}

func (s *traceSink) Export(_ context.Context, req *coltracepb.ExportTraceServiceRequest) (*coltracepb.ExportTraceServiceResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.got = append(s.got, req)
	return &coltracepb.ExportTraceServiceResponse{}, nil
}

func (s *traceSink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	req := &coltracepb.ExportTraceServiceRequest{}
	if r.URL.Path != "/v1/traces" || proto.Unmarshal(body, req) != nil {
		http.Error(w, "bad export", http.StatusBadRequest)
		return
	}
	resp, _ := s.Export(r.Context(), req)
	out, _ := proto.Marshal(resp)
	w.Header().Set("Content-Type", "application/x-protobuf")
	w.Write(out)
}

// startTraceSink starts an OTLP receiver for protocol and returns its endpoint URL.
func startTraceSink(t *testing.T, protocol string) (*traceSink, string) {
	t.Helper()
	sink := &traceSink{}
	if protocol != "grpc" {
		srv := httptest.NewServer(sink)
		t.Cleanup(srv.Close)
		return sink, srv.URL
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	coltracepb.RegisterTraceServiceServer(srv, sink)
	go srv.Serve(lis)
	t.Cleanup(srv.Stop)
	return sink, "http://" + lis.Addr().String() // http: a plaintext connection
}

// TestOTLPExportFromEnvironment sends spans to an OTLP receiver (HTTP, then gRPC) named
// only by the standard environment variables.
func TestOTLPExportFromEnvironment(t *testing.T) {
	for _, protocol := range []string{"http/protobuf", "grpc"} {
		t.Run(protocol, func(t *testing.T) {
			sink, endpoint := startTraceSink(t, protocol)
			t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint)
			t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", protocol)
			t.Setenv("OTEL_SERVICE_NAME", "gatehouse-test")
			testOTLPExport(t, sink)
		})
	}
}

func testOTLPExport(t *testing.T, sink *traceSink) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cfg := demoConfig(t)
	logPath := filepath.Join(t.TempDir(), "decisions.log")
	cfg.Telemetry.DecisionLog = DecisionLogConfig{Enabled: true, Output: logPath}
	svc, err := New(ctx, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	for deadline := time.Now().Add(10 * time.Second); !svc.Server().Ready(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("policies not loaded")
		}
	}
	req := extauthztest.NewCheckRequest("GET", "/api/documents", "traceparent", traceparent)
	if _, err := svc.Server().Check(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	// Envoy did not sample this one: the default sampler follows it, and no span starts.
	unsampled := extauthztest.NewCheckRequest("GET", "/api/documents", "traceparent", "00-"+strings.Repeat("ab", 16)+"-"+envoySpanID+"-00")
	if _, err := svc.Server().Check(context.Background(), unsampled); err != nil {
		t.Fatal(err)
	}
	cancel() // shutdown flushes the batched spans
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	sink.mu.Lock()
	defer sink.mu.Unlock()
	names := map[string]bool{}
	service := ""
	for _, req := range sink.got {
		for _, rs := range req.ResourceSpans {
			for _, kv := range rs.GetResource().GetAttributes() {
				if kv.Key == "service.name" {
					service = kv.GetValue().GetStringValue()
				}
			}
			for _, ss := range rs.ScopeSpans {
				for _, s := range ss.Spans {
					if fmt.Sprintf("%x", s.TraceId) != envoyTraceID {
						t.Errorf("span %s in trace %x", s.Name, s.TraceId)
					}
					names[s.Name] = true
				}
			}
		}
	}
	if !names["gatehouse.check"] || !names["gatehouse.map"] || !names["gatehouse.evaluate"] {
		t.Errorf("exported spans %v, want check, map and evaluate", names)
	}
	if service != "gatehouse-test" {
		t.Errorf("service.name %q, want OTEL_SERVICE_NAME's", service)
	}
	// Both lines join Envoy's traces, sampled or not.
	b, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{envoyTraceID, strings.Repeat("ab", 16)} {
		if !bytes.Contains(b, []byte(`"trace_id":"`+id+`"`)) {
			t.Errorf("no decision-log line with trace %s:\n%s", id, b)
		}
	}
}

func TestW3CParent(t *testing.T) {
	for _, tt := range []struct {
		header      string
		id          string
		sampled, ok bool
	}{
		{traceparent, envoyTraceID, true, true},
		{"00-" + envoyTraceID + "-" + envoySpanID + "-00", envoyTraceID, false, true},
		{"00-" + envoyTraceID + "-" + envoySpanID + "-03", envoyTraceID, true, true},
		{"00-" + envoyTraceID + "-" + envoySpanID + "-02", envoyTraceID, false, true},
		{"00-" + strings.ToUpper(envoyTraceID) + "-" + envoySpanID + "-01", "", false, false},
		{"00-" + strings.Repeat("0", 32) + "-" + envoySpanID + "-01", "", false, false},
		{"00-" + envoyTraceID + "-" + strings.Repeat("0", 16) + "-01", "", false, false},
		{"01-" + envoyTraceID + "-" + envoySpanID + "-01", "", false, false},
		{"00-" + envoyTraceID + "-" + envoySpanID + "-0g", "", false, false},
		{traceparent + "-extra", "", false, false},
		{"", "", false, false},
	} {
		req := extauthztest.NewCheckRequest("GET", "/", "traceparent", tt.header)
		id, sampled, ok := w3cParent(req.GetAttributes().GetRequest().GetHttp())
		if id != tt.id || sampled != tt.sampled || ok != tt.ok {
			t.Errorf("w3cParent(%q) = %q, %v, %v; want %q, %v, %v", tt.header, id, sampled, ok, tt.id, tt.sampled, tt.ok)
		}
	}
}

func TestParentBasedSampler(t *testing.T) {
	for name, want := range map[string]bool{
		"": true, "parentbased_always_on": true, "parentbased_traceidratio": true,
		"always_on": false, "traceidratio": false, "always_off": false,
	} {
		if got := parentBasedSampler(name); got != want {
			t.Errorf("parentBasedSampler(%q) = %v", name, got)
		}
	}
}

func TestTracingEnvironmentErrors(t *testing.T) {
	for _, tt := range []struct{ key, val, want string }{
		{"OTEL_TRACES_EXPORTER", "zipkin", `OTEL_TRACES_EXPORTER="zipkin"`},
		{"OTEL_EXPORTER_OTLP_PROTOCOL", "thrift", `OTLP protocol "thrift"`},
	} {
		t.Run(tt.key, func(t *testing.T) {
			t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:1")
			t.Setenv(tt.key, tt.val)
			_, err := New(context.Background(), demoConfig(t), nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("New: %v, want an error naming %s", err, tt.want)
			}
		})
	}
}

// TestDecisionLogLine checks one decision-log line of an allowed check end to end.
func TestDecisionLogLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "decisions.log")
	cfg := demoConfig(t)
	cfg.Telemetry.DecisionLog = DecisionLogConfig{Enabled: true, Output: path}
	svc, client, _ := startService(t, cfg)
	req := extauthztest.NewCheckRequest("PUT", "/api/users/alice/documents/3?draft=1", "authorization", token(t, "alice"), "traceparent", traceparent)
	resp, err := client.Check(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	lines := readDecisionLog(t, svc, path, 1)
	var rec map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &rec); err != nil {
		t.Fatalf("line %q: %v", lines[0], err)
	}
	for k, v := range map[string]any{
		"decision_id": decisionIDOf(resp), "trace_id": envoyTraceID, "decision": "allow", "status": 200.0,
		"reason": "allowed", "route": "user-document", "method": "PUT", "path": "/api/users/alice/documents/3",
		"principal_id": "alice", "identity_source": "jwt", "resource_kind": "document", "resource_id": "3",
		"action": "update", "policy_set_hash": svc.Server().policies.Load().Hash(),
	} {
		if rec[k] != v {
			t.Errorf("%s = %#v, want %#v", k, rec[k], v)
		}
	}
	for _, k := range []string{"time", "roles", "matched_policy", "matched_rule", "latency_us", "principal_attr", "resource_attr"} {
		if rec[k] == nil {
			t.Errorf("line lacks %s: %s", k, lines[0])
		}
	}
}

// readDecisionLog stops the service's telemetry (flushing the log) and returns the lines,
// which must number want.
func readDecisionLog(t *testing.T, svc *Service, path string, want int) []string {
	t.Helper()
	if err := svc.tel.dlog.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if len(lines) != want {
		t.Fatalf("%d decision-log lines, want %d:\n%s", len(lines), want, b)
	}
	return lines
}

// TestNoSecretsInLogs sends checks carrying bearer tokens (valid, expired, forged,
// malformed), cookies and attributes configured as secret, with the decision log at
// 100 % and application logs at debug level, then scans every line for them.
func TestNoSecretsInLogs(t *testing.T) {
	path := filepath.Join(t.TempDir(), "decisions.log")
	cfg := demoConfig(t)
	cfg.Telemetry.DecisionLog = DecisionLogConfig{Enabled: true, Output: path, Redact: []string{"email", "classification"}}
	var appLog bytes.Buffer
	var appMu sync.Mutex
	log := slog.New(slog.NewJSONHandler(lockedWriter{&appMu, &appLog}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	tp, _ := recordSpans(t)
	svc, client, _ := startServiceLog(t, cfg, log, WithTracerProvider(tp))

	alice, expired := token(t, "alice"), token(t, "expired")
	forged := alice[:len(alice)-10] + "AAAAAAAAAA"
	secrets := []string{
		strings.TrimPrefix(alice, "Bearer "), signature(alice), strings.TrimPrefix(expired, "Bearer "), signature(expired),
		signature(forged), "not.a.valid-jwt-c2VjcmV0", "session=s3cr3t-cookie-value", "s3cr3t-cookie-value",
		"alice@example.com", "top-secret-classification", "query-token-9f8e7d",
	}
	cookie := "cookie"
	reqs := []*authv3.CheckRequest{
		extauthztest.NewCheckRequest("PUT", "/api/users/alice/documents/3", "authorization", alice, cookie, "session=s3cr3t-cookie-value"),
		extauthztest.NewCheckRequest("GET", "/api/users/alice/documents/3?access_token=query-token-9f8e7d", "authorization", expired, cookie, "session=s3cr3t-cookie-value"),
		extauthztest.NewCheckRequest("GET", "/api/documents", "authorization", forged),
		extauthztest.NewCheckRequest("GET", "/api/documents", "authorization", "Bearer not.a.valid-jwt-c2VjcmV0"),
		extauthztest.WithBody(extauthztest.NewCheckRequest("POST", "/api/documents", "authorization", alice, cookie, "session=s3cr3t-cookie-value"),
			`{"classification": "top-secret-classification"}`),
		extauthztest.NewCheckRequest("POST", "/api/users/alice/documents/3", "authorization", alice),
	}
	for _, req := range reqs {
		if _, err := client.Check(context.Background(), req); err != nil {
			t.Fatal(err)
		}
	}
	lines := readDecisionLog(t, svc, path, len(reqs))
	appMu.Lock()
	app := appLog.String()
	appMu.Unlock()
	if !strings.Contains(app, `"level":"DEBUG"`) {
		t.Fatalf("no debug lines in the application log; the scan would prove nothing:\n%s", app)
	}
	for _, s := range secrets {
		for i, line := range lines {
			if strings.Contains(line, s) {
				t.Errorf("decision-log line %d contains %q: %s", i+1, s, line)
			}
		}
		if strings.Contains(app, s) {
			t.Errorf("application log contains %q", s)
		}
	}
	if !strings.Contains(strings.Join(lines, ""), `"email":"[REDACTED]"`) || !strings.Contains(strings.Join(lines, ""), `"classification":"[REDACTED]"`) {
		t.Errorf("configured attributes not shown as redacted:\n%s", strings.Join(lines, "\n"))
	}
}

// signature is the last segment of a bearer token: unique to it, unlike its header.
func signature(bearer string) string {
	return bearer[strings.LastIndexByte(bearer, '.')+1:]
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
