package extauthz

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"go.opentelemetry.io/contrib/instrumentation/runtime"
	"go.opentelemetry.io/contrib/propagators/b3"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/metric"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/exemplar"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/gatehouse/gatehouse/extauthz/internal/decisionlog"
	"github.com/gatehouse/gatehouse/extauthz/internal/promtext"
	"github.com/gatehouse/gatehouse/mapping"
)

// instrumentationName names gatehouse's tracer and meter.
const instrumentationName = "github.com/gatehouse/gatehouse/extauthz"

// Option adjusts how New builds the service; for embedding and tests.
type Option func(*options)

type options struct {
	tracerProvider trace.TracerProvider
}

// WithTracerProvider sends spans to tp instead of the exporter the OTEL_* environment
// variables select.
func WithTracerProvider(tp trace.TracerProvider) Option {
	return func(o *options) { o.tracerProvider = tp }
}

// telemetry is what a check reports: spans, metrics and the decision log. Every part is
// optional; a disabled part costs a nil check on the request path.
type telemetry struct {
	tracer    trace.Tracer             // nil when tracing is off
	principal bool                     // principal ids on spans
	spans     *sdktrace.TracerProvider // the SDK provider built from the environment, if any
	// parentDecides: the sampler follows the parent's sampled flag (the SDK's default,
	// parentbased_*), so a check whose trace Envoy did not sample starts no span at all.
	parentDecides bool

	// Counters on the request path are atomics, one per label combination, that the
	// meter reads when metrics are collected: an atomic add instead of the SDK's
	// attribute handling and aggregation on every check.
	metrics        bool // meters record: not the no-op provider
	checks         counterSet[checkKey]
	tokens         counterSet[tokenKey]
	inFlight       atomic.Int64
	kinds, actions boundedValues

	duration     *histogramVec[int] // by outcome
	outcomeAttrs [3]attribute.Set
	rpcDuration  *histogramVec[rpcKey]
	keyLoads     metric.Int64Counter
	policyLoads  metric.Int64Counter

	dlog *decisionlog.Logger

	meterProvider metric.MeterProvider
	meter         metric.Meter

	reader         *sdkmetric.ManualReader // what /metrics collects from; nil when metrics are off
	metricsHandler http.Handler            // nil when metrics are not served
	shutdowns      []func(context.Context) error
}

// Outcomes of a check, the "decision" label of its metrics.
const (
	outcomeAllow = iota
	outcomeDeny
	outcomeError
)

var outcomeNames = [...]string{"allow", "deny", "error"}

// checkKey is one combination of the labels of gatehouse.checks.
type checkKey struct {
	outcome              int
	reason, kind, action string
}

type tokenKey struct {
	outcome string
	cached  bool
}

// newTelemetry sets up tracing (from the OTEL_* environment unless a provider is given),
// metrics (Prometheus on /metrics unless a provider is given) and the decision log.
func newTelemetry(ctx context.Context, cfg *Config, log *slog.Logger, o *options) (*telemetry, error) {
	tc := &cfg.Telemetry
	t := &telemetry{
		principal: tc.Tracing.PrincipalID,
		kinds:     boundedValues{limit: maxLabelValues},
		actions:   boundedValues{limit: maxLabelValues},
	}
	ok := false
	defer func() {
		if !ok {
			t.shutdown(context.Background())
		}
	}()

	// OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES win over the defaults.
	res, err := resource.New(ctx, resource.WithAttributes(semconv.ServiceName("gatehouse")),
		resource.WithTelemetrySDK(), resource.WithFromEnv())
	if err != nil {
		return nil, fmt.Errorf("OTEL_RESOURCE_ATTRIBUTES: %w", err)
	}

	tp := o.tracerProvider
	if tp == nil {
		exp, err := traceExporterFromEnv(ctx)
		if err != nil {
			return nil, fmt.Errorf("tracing: %w", err)
		}
		if exp != nil {
			sdk := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
			t.spans = sdk
			t.parentDecides = parentBasedSampler(os.Getenv("OTEL_TRACES_SAMPLER"))
			t.shutdowns = append(t.shutdowns, sdk.Shutdown)
			tp = sdk
			log.Info("tracing to OTLP", "exporter", fmt.Sprintf("%T", exp))
		}
	}
	if tp != nil {
		t.tracer = tp.Tracer(instrumentationName)
	}

	var mp metric.MeterProvider = metricnoop.NewMeterProvider()
	if !tc.Metrics.Disabled {
		// The histograms come from a producer (histogram.go); the Prometheus text format
		// carries no exemplars, so none are collected.
		t.reader = sdkmetric.NewManualReader(sdkmetric.WithProducer(histogramProducer{t}))
		sdk := sdkmetric.NewMeterProvider(sdkmetric.WithReader(t.reader), sdkmetric.WithResource(res),
			sdkmetric.WithExemplarFilter(exemplar.AlwaysOffFilter))
		t.shutdowns = append(t.shutdowns, sdk.Shutdown)
		mp = sdk
		h := promtext.NewHandler(t.reader)
		h.OnError = func(err error) { log.Error("collecting metrics", "error", err) }
		t.metricsHandler = h
		if err := runtime.Start(runtime.WithMeterProvider(mp)); err != nil {
			return nil, fmt.Errorf("runtime metrics: %w", err)
		}
		t.metrics = true
	}
	t.meterProvider, t.meter = mp, mp.Meter(instrumentationName)
	if err := t.instruments(t.meter); err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}

	if dc := tc.DecisionLog; dc.Enabled {
		opts := dc.options()
		opts.ErrorLog = func(err error) { log.Error("decision log", "error", err) }
		dl, err := decisionlog.New(opts)
		if err != nil {
			return nil, fmt.Errorf("telemetry.decisionLog: %w", err)
		}
		t.dlog = dl
		t.shutdowns = append(t.shutdowns, dl.Close)
	}
	ok = true
	return t, nil
}

// maxLabelValues bounds the distinct resource kinds and actions in metric labels; later
// values are counted as "other". Kinds and actions come from configuration and policies,
// but expressions (kindExpr, actionExpr) could turn request data into label values.
const maxLabelValues = 100

func (t *telemetry) instruments(m metric.Meter) error {
	var errs []error
	add := func(err error) { errs = append(errs, err) }
	_, err := m.Int64ObservableCounter("gatehouse.checks",
		metric.WithDescription("Checks answered, by decision (allow, deny, error), reason, resource kind and action."),
		metric.WithInt64Callback(func(_ context.Context, o metric.Int64Observer) error {
			t.checks.observe(o)
			return nil
		}))
	add(err)
	t.duration = newHistogramVec[int]("gatehouse.check.duration", "Time to answer a check, by decision.", "s",
		[]float64{0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1})
	_, err = m.Int64ObservableUpDownCounter("gatehouse.checks.in_flight",
		metric.WithDescription("Checks being answered."),
		metric.WithInt64Callback(func(_ context.Context, o metric.Int64Observer) error {
			o.Observe(t.inFlight.Load())
			return nil
		}))
	add(err)
	_, err = m.Int64ObservableCounter("gatehouse.jwt.verifications",
		metric.WithDescription("Bearer-token verifications, by outcome (valid or why not) and whether the cache answered."),
		metric.WithInt64Callback(func(_ context.Context, o metric.Int64Observer) error {
			t.tokens.observe(o)
			return nil
		}))
	add(err)
	t.keyLoads, err = m.Int64Counter("gatehouse.jwks.loads",
		metric.WithDescription("Loads of JWK sets (file reads and URL fetches), by source and result."))
	add(err)
	t.policyLoads, err = m.Int64Counter("gatehouse.policy.loads",
		metric.WithDescription("Loads of the policy repository, by result."))
	add(err)
	t.rpcDuration = newHistogramVec[rpcKey]("rpc.server.call.duration",
		"Duration of gRPC calls served (Check and health), by method and status code.", "s",
		[]float64{0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10})
	for i, name := range outcomeNames {
		t.outcomeAttrs[i] = attribute.NewSet(attribute.String("decision", name))
	}
	return errors.Join(errs...)
}

// counterSet counts by label combination, an atomic per combination.
type counterSet[K comparable] struct {
	cowMap[K, *counted]
}

// counted is the count of one label combination.
type counted struct {
	n    atomic.Int64
	opts []metric.ObserveOption
}

// add counts one for key, whose labels attrs builds the first time.
func (c *counterSet[K]) add(key K, attrs func() attribute.Set) {
	c.get(key, func() *counted {
		return &counted{opts: []metric.ObserveOption{metric.WithAttributeSet(attrs())}}
	}).n.Add(1)
}

// observe reports every label combination's count.
func (c *counterSet[K]) observe(o metric.Int64Observer) {
	if m := c.m.Load(); m != nil {
		for _, v := range *m {
			o.Observe(v.n.Load(), v.opts...)
		}
	}
}

// observeService registers the instruments read when metrics are collected: the active
// policy set (its policy count, labelled with the repository hash) and the decision log's
// written and dropped lines.
func (t *telemetry) observeService(s *Service) error {
	m := t.meter
	_, err := m.Int64ObservableGauge("gatehouse.policy.set",
		metric.WithDescription("The active policy set: its policy count, labelled with the repository hash."),
		metric.WithInt64Callback(func(_ context.Context, o metric.Int64Observer) error {
			if set := s.server.policies.Load(); set != nil {
				o.Observe(int64(set.PolicyCount()), metric.WithAttributes(attribute.String("hash", set.Hash())))
			}
			return nil
		}))
	if err != nil || t.dlog == nil {
		return err
	}
	_, err = m.Int64ObservableCounter("gatehouse.decision_log.lines",
		metric.WithDescription("Decision-log lines, by result: written, or dropped because the writer fell behind."),
		metric.WithInt64Callback(func(_ context.Context, o metric.Int64Observer) error {
			o.Observe(int64(t.dlog.Written()), metric.WithAttributes(attribute.String("result", "written")))
			o.Observe(int64(t.dlog.Dropped()), metric.WithAttributes(attribute.String("result", "dropped")))
			return nil
		}))
	return err
}

// RPC durations go into rpc.server.call.duration under OpenTelemetry's RPC semantic
// conventions (rpc.system.name, rpc.method, rpc.response.status_code), the metric that
// otelgrpc records. gatehouse records it itself, without otelgrpc's stats handler (about
// 10 µs of CPU per Check, a fifth of a whole check over gRPC) or interceptors.

// checkMethod is the Check's rpc.method.
const checkMethod = "/envoy.service.auth.v3.Authorization/Check"

// meteredHealth is the health service, its calls timed.
type meteredHealth struct {
	*health.Server
	tel *telemetry
}

func (h meteredHealth) Check(ctx context.Context, req *healthpb.HealthCheckRequest) (*healthpb.HealthCheckResponse, error) {
	start := time.Now()
	resp, err := h.Server.Check(ctx, req)
	h.tel.recordRPC(ctx, "/grpc.health.v1.Health/Check", err, start)
	return resp, err
}

func (h meteredHealth) List(ctx context.Context, req *healthpb.HealthListRequest) (*healthpb.HealthListResponse, error) {
	start := time.Now()
	resp, err := h.Server.List(ctx, req)
	h.tel.recordRPC(ctx, "/grpc.health.v1.Health/List", err, start)
	return resp, err
}

func (h meteredHealth) Watch(req *healthpb.HealthCheckRequest, stream healthpb.Health_WatchServer) error {
	start := time.Now()
	err := h.Server.Watch(req, stream)
	h.tel.recordRPC(stream.Context(), "/grpc.health.v1.Health/Watch", err, start)
	return err
}

type rpcKey struct {
	method string
	code   codes.Code
}

// recordRPC records a gRPC call that started at start and returned err.
func (t *telemetry) recordRPC(ctx context.Context, fullMethod string, err error, start time.Time) {
	t.recordRPCDuration(ctx, fullMethod, status.Code(err), time.Since(start))
}

func (t *telemetry) recordRPCDuration(ctx context.Context, fullMethod string, code codes.Code, d time.Duration) {
	key := rpcKey{fullMethod, code}
	t.rpcDuration.record(key, func() attribute.Set {
		return attribute.NewSet(attribute.String("rpc.system.name", "grpc"),
			attribute.String("rpc.method", strings.TrimPrefix(fullMethod, "/")),
			attribute.String("rpc.response.status_code", key.code.String()))
	}, d.Seconds())
}

// recordCheck counts one answered check and its duration.
func (t *telemetry) recordCheck(ctx context.Context, outcome int, reason, kind, action string, elapsed time.Duration) {
	key := checkKey{outcome: outcome, reason: reason, kind: t.kinds.get(kind), action: t.actions.get(action)}
	t.checks.add(key, func() attribute.Set {
		return attribute.NewSet(attribute.String("decision", outcomeNames[outcome]), attribute.String("reason", key.reason),
			attribute.String("resource_kind", key.kind), attribute.String("action", key.action))
	})
	t.duration.record(outcome, func() attribute.Set { return t.outcomeAttrs[outcome] }, elapsed.Seconds())
}

// TokenVerified implements mapping.Observer: a metric, and a span under the mapping span.
func (t *telemetry) TokenVerified(ctx context.Context, outcome string, cached bool, start time.Time, d time.Duration) {
	if t.metrics {
		key := tokenKey{outcome, cached}
		t.tokens.add(key, func() attribute.Set {
			return attribute.NewSet(attribute.String("outcome", outcome), attribute.Bool("cached", cached))
		})
	}
	if t.tracer == nil || !trace.SpanFromContext(ctx).IsRecording() {
		return
	}
	_, span := t.tracer.Start(ctx, "gatehouse.jwt.verify", trace.WithTimestamp(start),
		trace.WithAttributes(attribute.String("gatehouse.jwt.outcome", outcome), attribute.Bool("gatehouse.jwt.cached", cached)))
	span.End(trace.WithTimestamp(start.Add(d)))
}

// KeysLoaded implements mapping.Observer.
func (t *telemetry) KeysLoaded(source string, err error) {
	result := "success"
	if err != nil {
		result = "failure"
	}
	t.keyLoads.Add(context.Background(), 1, metric.WithAttributes(attribute.String("source", source), attribute.String("result", result)))
}

var _ mapping.Observer = (*telemetry)(nil)

// policyLoaded counts a load of the policy repository.
func (t *telemetry) policyLoaded(err error) {
	result := "success"
	if err != nil {
		result = "failure"
	}
	t.policyLoads.Add(context.Background(), 1, metric.WithAttributes(attribute.String("result", result)))
}

// flush exports the ended spans and writes the waiting decision-log lines now. Only
// benchmarks need it, to count that work against the checks that caused it.
func (t *telemetry) flush(ctx context.Context) error {
	var errs []error
	if t.spans != nil {
		errs = append(errs, t.spans.ForceFlush(ctx))
	}
	return errors.Join(append(errs, t.dlog.Flush(ctx))...)
}

func (t *telemetry) shutdown(ctx context.Context) error {
	var errs []error
	for i := len(t.shutdowns) - 1; i >= 0; i-- {
		errs = append(errs, t.shutdowns[i](ctx))
	}
	t.shutdowns = nil
	return errors.Join(errs...)
}

// traceExporterFromEnv returns the OTLP span exporter the standard environment variables
// ask for, or nil when tracing is off. Tracing is on when OTEL_TRACES_EXPORTER is "otlp",
// or when it is unset and an OTLP endpoint is configured (OTEL_EXPORTER_OTLP_ENDPOINT or
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT); OTEL_SDK_DISABLED=true turns it off. The protocol
// is OTEL_EXPORTER_OTLP_TRACES_PROTOCOL or OTEL_EXPORTER_OTLP_PROTOCOL: "grpc" or
// "http/protobuf" (the default). The exporters read their other settings (endpoint,
// headers, TLS, timeout) from the environment themselves, as does the SDK the sampler
// (OTEL_TRACES_SAMPLER, default parent-based always-on).
func traceExporterFromEnv(ctx context.Context) (sdktrace.SpanExporter, error) {
	if strings.EqualFold(os.Getenv("OTEL_SDK_DISABLED"), "true") {
		return nil, nil
	}
	switch exporter := strings.TrimSpace(os.Getenv("OTEL_TRACES_EXPORTER")); exporter {
	case "none":
		return nil, nil
	case "":
		if os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT") == "" && os.Getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") == "" {
			return nil, nil
		}
	case "otlp":
	default:
		return nil, fmt.Errorf("OTEL_TRACES_EXPORTER=%q: gatehouse exports spans with otlp (or none)", exporter)
	}
	protocol := os.Getenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
	if protocol == "" {
		protocol = os.Getenv("OTEL_EXPORTER_OTLP_PROTOCOL")
	}
	switch protocol {
	case "grpc":
		return otlptracegrpc.New(ctx)
	case "", "http/protobuf":
		return otlptracehttp.New(ctx)
	}
	return nil, fmt.Errorf("OTLP protocol %q: want grpc or http/protobuf", protocol)
}

// parentBasedSampler tells whether OTEL_TRACES_SAMPLER names a sampler that follows a
// remote parent's sampled flag: the SDK's default and its parentbased_* samplers (whose
// unsampled remote parents are never sampled).
func parentBasedSampler(name string) bool {
	return name == "" || strings.HasPrefix(strings.TrimSpace(name), "parentbased_")
}

// boundedValues passes through the first limit distinct values it sees and turns every
// later one into "other", so that label sets stay bounded. Looking up a known value takes
// no lock and allocates nothing.
type boundedValues struct {
	limit int
	mu    sync.Mutex
	seen  atomic.Pointer[map[string]struct{}] // replaced, never changed, under mu
}

func (b *boundedValues) get(v string) string {
	if m := b.seen.Load(); m != nil {
		if _, ok := (*m)[v]; ok {
			return v
		}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	old := b.seen.Load()
	if old != nil {
		if _, ok := (*old)[v]; ok {
			return v
		}
		if len(*old) >= b.limit {
			return "other"
		}
	}
	next := make(map[string]struct{}, b.limit)
	if old != nil {
		maps.Copy(next, *old)
	}
	next[strings.Clone(v)] = struct{}{}
	b.seen.Store(&next)
	return v
}

// cowMap is a map that is read on every check and written rarely: the label
// combinations of a metric, say. Reads take no lock and allocate nothing; a new key copies
// the map (keys are few and bounded).
type cowMap[K comparable, V any] struct {
	mu sync.Mutex
	m  atomic.Pointer[map[K]V] // replaced, never changed, under mu
}

// get returns the value of key, adding the one that value builds when key is new.
func (c *cowMap[K, V]) get(key K, value func() V) V {
	if m := c.m.Load(); m != nil {
		if v, ok := (*m)[key]; ok {
			return v
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	old := c.m.Load()
	if old != nil {
		if v, ok := (*old)[key]; ok {
			return v
		}
	}
	next := make(map[K]V, 1+len(mapOrNil(old)))
	maps.Copy(next, mapOrNil(old))
	v := value()
	next[key] = v
	c.m.Store(&next)
	return v
}

func mapOrNil[M ~map[K]V, K comparable, V any](m *M) M {
	if m == nil {
		return nil
	}
	return *m
}

// startChild starts a child span of the check, or returns a nil span when the check's
// span is not recording (tracing off, or Envoy did not sample the request).
func (t *telemetry) startChild(ctx context.Context, name string) (context.Context, trace.Span) {
	if t.tracer == nil || !trace.SpanFromContext(ctx).IsRecording() {
		return ctx, nil
	}
	return t.tracer.Start(ctx, name)
}

// Trace context propagators: W3C first, B3 (Zipkin, older Envoy and Istio tracers) when a
// request carries no traceparent. Baggage is not read: spans carry nothing from it.
var (
	w3cPropagator = propagation.TraceContext{}
	b3Propagator  = b3.New()
)

// extractTrace returns ctx with the trace context of the request's headers, if any: the
// parent of the check span.
func extractTrace(ctx context.Context, h *authv3.AttributeContext_HttpRequest) context.Context {
	c := checkHeaders{h}
	switch {
	case c.Get("traceparent") != "":
		return w3cPropagator.Extract(ctx, c)
	case c.Get("b3") != "" || c.Get("x-b3-traceid") != "":
		return b3Propagator.Extract(ctx, c)
	}
	return ctx
}

// w3cParent reads a version-00 W3C traceparent header without the propagator: the trace
// id (lower-case hex, part of the header) and the sampled flag. ok is false when there is
// none, or it is not exactly of that form; the propagator then has the last word.
func w3cParent(h *authv3.AttributeContext_HttpRequest) (traceID string, sampled, ok bool) {
	v := checkHeaders{h}.Get("traceparent")
	if len(v) != 55 || v[:3] != "00-" || v[35] != '-' || v[52] != '-' ||
		!lowerHex(v[3:35]) || !lowerHex(v[36:52]) || !lowerHex(v[53:55]) ||
		strings.Trim(v[3:35], "0") == "" || strings.Trim(v[36:52], "0") == "" {
		return "", false, false
	}
	// The low bit of the flags byte, its second hex digit, is "sampled".
	last := v[54]
	return v[3:35], strings.IndexByte("13579bdf", last) >= 0, true
}

func lowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// checkHeaders reads trace context from a CheckRequest's headers: the headers map
// (lower-case names), or Envoy's raw header_map when it sends that instead.
type checkHeaders struct {
	h *authv3.AttributeContext_HttpRequest
}

func (c checkHeaders) Get(key string) string {
	key = strings.ToLower(key) // propagators ask in lower case: no copy
	if v, ok := c.h.GetHeaders()[key]; ok {
		return v
	}
	for _, hv := range c.h.GetHeaderMap().GetHeaders() {
		if strings.EqualFold(hv.GetKey(), key) {
			if hv.GetValue() != "" {
				return hv.GetValue()
			}
			return string(hv.GetRawValue())
		}
	}
	return ""
}

func (checkHeaders) Set(string, string) {}

func (c checkHeaders) Keys() []string {
	keys := make([]string, 0, len(c.h.GetHeaders()))
	for k := range c.h.GetHeaders() {
		keys = append(keys, k)
	}
	for _, hv := range c.h.GetHeaderMap().GetHeaders() {
		keys = append(keys, strings.ToLower(hv.GetKey()))
	}
	return keys
}

// disabledTelemetry reports nothing: the state of a Server built without a Service.
func disabledTelemetry() *telemetry {
	t := &telemetry{meterProvider: metricnoop.NewMeterProvider()}
	t.meter = t.meterProvider.Meter(instrumentationName)
	_ = t.instruments(t.meter)
	return t
}
