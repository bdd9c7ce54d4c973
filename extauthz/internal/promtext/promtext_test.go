package promtext

import (
	"bytes"
	"context"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"go.opentelemetry.io/otel/attribute"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
)

// record makes measurements of every kind the server uses, with awkward names, units and
// label values.
func record(t *testing.T, mp metric.MeterProvider) {
	t.Helper()
	ctx := context.Background()
	m := mp.Meter("test")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	checks, err := m.Int64Counter("gatehouse.checks", metric.WithDescription("Checks answered.\nBy decision \\ reason."))
	must(err)
	checks.Add(ctx, 3, metric.WithAttributes(attribute.String("decision", "allow"), attribute.String("action", "read")))
	checks.Add(ctx, 2, metric.WithAttributes(attribute.String("decision", "deny"), attribute.String("action", `we"ird\`+"\nvalue")))
	checks.Add(ctx, 1)

	bytesTotal, err := m.Float64Counter("io.read", metric.WithUnit("By"))
	must(err)
	bytesTotal.Add(ctx, 1.5e9)

	already, err := m.Int64Counter("requests_total", metric.WithUnit("{request}"))
	must(err)
	already.Add(ctx, 7)

	inFlight, err := m.Int64UpDownCounter("gatehouse.checks.in_flight")
	must(err)
	inFlight.Add(ctx, 4)
	inFlight.Add(ctx, -1)

	_, err = m.Int64ObservableGauge("gatehouse.policy.set", metric.WithInt64Callback(func(_ context.Context, o metric.Int64Observer) error {
		o.Observe(12, metric.WithAttributes(attribute.String("hash", "abc")))
		return nil
	}))
	must(err)
	_, err = m.Float64ObservableGauge("go.config.gogc", metric.WithUnit("%"), metric.WithFloat64Callback(func(_ context.Context, o metric.Float64Observer) error {
		o.Observe(100)
		return nil
	}))
	must(err)
	_, err = m.Int64ObservableCounter("go.memory.allocated", metric.WithUnit("By"), metric.WithInt64Callback(func(_ context.Context, o metric.Int64Observer) error {
		o.Observe(1 << 30)
		return nil
	}))
	must(err)
	_, err = m.Int64ObservableUpDownCounter("go.goroutine.count", metric.WithUnit("{goroutine}"), metric.WithInt64Callback(func(_ context.Context, o metric.Int64Observer) error {
		o.Observe(22)
		return nil
	}))
	must(err)

	rate, err := m.Float64Gauge("net.rate", metric.WithUnit("By/s"))
	must(err)
	rate.Record(ctx, 0.25)

	dur, err := m.Float64Histogram("rpc.server.call.duration", metric.WithUnit("s"),
		metric.WithExplicitBucketBoundaries(0.00005, 0.001, 0.5))
	must(err)
	for _, v := range []float64{0.00001, 0.0002, 0.0002, 0.7} {
		dur.Record(ctx, v, metric.WithAttributes(attribute.String("rpc.method", "a/Check"), attribute.String("rpc.system.name", "grpc")))
	}
	ms, err := m.Int64Histogram("batch.size", metric.WithExplicitBucketBoundaries(1, 10))
	must(err)
	ms.Record(ctx, 5)
}

func newProvider(t *testing.T, readers ...sdkmetric.Reader) *sdkmetric.MeterProvider {
	t.Helper()
	res := resource.NewSchemaless(attribute.String("service.name", "gatehouse"), attribute.String("service.instance.id", `i-1"2`))
	opts := []sdkmetric.Option{sdkmetric.WithResource(res)}
	for _, r := range readers {
		opts = append(opts, sdkmetric.WithReader(r))
	}
	mp := sdkmetric.NewMeterProvider(opts...)
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	return mp
}

func parse(t *testing.T, text []byte) map[string]*dto.MetricFamily {
	t.Helper()
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(text))
	if err != nil {
		t.Fatalf("not the Prometheus text format: %v\n%s", err, text)
	}
	return fams
}

// TestAgreesWithOpenTelemetryExporter feeds the same measurements to this package and to
// OpenTelemetry's Prometheus exporter and compares what Prometheus would ingest: names,
// types, help, label sets and values.
func TestAgreesWithOpenTelemetryExporter(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	reg := prometheus.NewRegistry()
	official, err := otelprom.New(otelprom.WithRegisterer(reg), otelprom.WithoutScopeInfo())
	if err != nil {
		t.Fatal(err)
	}
	record(t, newProvider(t, reader, official))

	ours, err := Collect(context.Background(), reader)
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	promhttp.HandlerFor(reg, promhttp.HandlerOpts{}).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	theirs := rec.Body.Bytes()

	got, want := parse(t, ours), parse(t, theirs)
	if a, b := names(got), names(want); a != b {
		t.Fatalf("families differ:\nours:   %s\ntheirs: %s", a, b)
	}
	for name, w := range want {
		g := got[name]
		if g.GetType() != w.GetType() || g.GetHelp() != w.GetHelp() {
			t.Errorf("%s: ours %v %q, theirs %v %q", name, g.GetType(), g.GetHelp(), w.GetType(), w.GetHelp())
		}
		if a, b := series(g), series(w); a != b {
			t.Errorf("%s series differ:\nours:\n%s\ntheirs:\n%s", name, a, b)
		}
	}
	if t.Failed() {
		t.Logf("ours:\n%s\ntheirs:\n%s", ours, theirs)
	}
}

func names(fams map[string]*dto.MetricFamily) string {
	var out []string
	for n := range fams {
		out = append(out, n)
	}
	sort.Strings(out)
	return strings.Join(out, " ")
}

// series renders a family's samples, one per line, sorted.
func series(f *dto.MetricFamily) string {
	var lines []string
	for _, m := range f.GetMetric() {
		var labels []string
		for _, l := range m.GetLabel() {
			labels = append(labels, l.GetName()+"="+l.GetValue())
		}
		sort.Strings(labels)
		prefix := strings.Join(labels, ",")
		switch f.GetType() {
		case dto.MetricType_COUNTER:
			lines = append(lines, prefix+" "+fmtF(m.GetCounter().GetValue()))
		case dto.MetricType_GAUGE:
			lines = append(lines, prefix+" "+fmtF(m.GetGauge().GetValue()))
		case dto.MetricType_HISTOGRAM:
			h := m.GetHistogram()
			lines = append(lines, prefix+" count="+fmtF(float64(h.GetSampleCount()))+" sum="+fmtF(h.GetSampleSum()))
			for _, b := range h.GetBucket() {
				lines = append(lines, prefix+" le="+fmtF(b.GetUpperBound())+" "+fmtF(float64(b.GetCumulativeCount())))
			}
		}
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

func fmtF(v float64) string { return formatFloat(v) }

func TestHandler(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	record(t, newProvider(t, reader))
	srv := httptest.NewServer(NewHandler(reader))
	defer srv.Close()
	for range 2 { // the buffers are reused between scrapes
		resp, err := http.Get(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if ct := resp.Header.Get("Content-Type"); ct != ContentType {
			t.Errorf("Content-Type %q", ct)
		}
		fams := parse(t, body)
		c := fams["gatehouse_checks_total"]
		if c == nil || len(c.GetMetric()) != 3 {
			t.Fatalf("gatehouse_checks_total: %v\n%s", c, body)
		}
		for _, want := range []string{
			`gatehouse_checks_total{action="we\"ird\\\nvalue",decision="deny"} 2`,
			`# HELP gatehouse_checks_total Checks answered.\nBy decision \\ reason.`,
			`rpc_server_call_duration_seconds_bucket{rpc_method="a/Check",rpc_system_name="grpc",le="5e-05"} 1`,
			`rpc_server_call_duration_seconds_bucket{rpc_method="a/Check",rpc_system_name="grpc",le="+Inf"} 4`,
			`io_read_bytes_total 1.5e+09`,
			`requests_total 7`,
			`go_config_gogc_percent 100`,
			`net_rate_bytes_per_second 0.25`,
			`target_info{service_instance_id="i-1\"2",service_name="gatehouse"} 1`,
		} {
			if !bytes.Contains(body, []byte(want)) {
				t.Errorf("exposition lacks %s", want)
			}
		}
	}
}

func TestNames(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"gatehouse.checks", "gatehouse_checks"},
		{"a..b--c", "a_b_c"},
		{"2xx.count", "_2xx_count"},
		{"ns:metric", "ns:metric"},
		{"é", "_"},
		{"", "_"},
	} {
		if got := sanitize(tt.in); got != tt.want {
			t.Errorf("sanitize(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	if got := sanitizeLabel("ns:key.name"); got != "ns_key_name" {
		t.Errorf("sanitizeLabel: %q", got)
	}
	for _, tt := range []struct{ in, want string }{
		{"s", "seconds"}, {"By", "bytes"}, {"{goroutine}", ""}, {"1", ""}, {"By/s", "bytes_per_second"},
		{"%", "percent"}, {"ms", "milliseconds"}, {"{packet}/s", "per_second"}, {"furlong", "furlong"},
	} {
		if got := unitWord(tt.in); got != tt.want {
			t.Errorf("unitWord(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	for _, tt := range []struct {
		v    float64
		want string
	}{{math.Inf(1), "+Inf"}, {math.Inf(-1), "-Inf"}, {math.NaN(), "NaN"}, {0.1, "0.1"}, {1e21, "1e+21"}} {
		if got := formatFloat(tt.v); got != tt.want {
			t.Errorf("formatFloat(%v) = %q, want %q", tt.v, got, tt.want)
		}
	}
}
