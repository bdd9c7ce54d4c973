package extauthz

import (
	"context"
	"errors"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"go.opentelemetry.io/otel/attribute"
	otelcodes "go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/gatehouse/gatehouse/extauthz/internal/decisionlog"
)

// Reasons of checks that end in an RPC error (the "error" decision).
const (
	reasonNotReady = "not_ready"
	reasonDeadline = "deadline_exceeded"
	reasonCanceled = "canceled"
	reasonInternal = "internal_error"
)

// report records an answered check: metrics, the check span's attributes and end, and
// the decision log. err is the RPC error the check returned, if any.
func (s *Server) report(ctx context.Context, span trace.Span, req *authv3.CheckRequest, d *decision, err error, start time.Time) {
	tel := s.tel
	elapsed := time.Since(start)
	outcome, reason := outcomeDeny, d.reason
	switch {
	case err != nil:
		outcome, reason = outcomeError, errorReason(err)
	case d.allow:
		outcome = outcomeAllow
	}
	if tel.metrics {
		tel.inFlight.Add(-1)
		tel.recordCheck(ctx, outcome, reason, d.kind, d.action, elapsed)
		tel.recordRPCDuration(ctx, checkMethod, status.Code(err), elapsed)
	}
	if span != nil {
		if span.IsRecording() {
			s.annotate(span, d, outcome, reason)
		}
		if err != nil {
			span.SetStatus(otelcodes.Error, reason)
		}
		span.End()
	}
	if tel.dlog != nil {
		s.logDecision(ctx, span, req, d, outcome, reason, start, elapsed)
	}
}

// errorReason names the RPC error a check ended with.
func errorReason(err error) string {
	switch {
	case errors.Is(err, errNotReady):
		return reasonNotReady
	case status.Code(err) == codes.DeadlineExceeded:
		return reasonDeadline
	case status.Code(err) == codes.Canceled:
		return reasonCanceled
	}
	return reasonInternal
}

// annotate puts the decision on the check span.
func (s *Server) annotate(span trace.Span, d *decision, outcome int, reason string) {
	attrs := make([]attribute.KeyValue, 0, 10)
	attrs = append(attrs,
		attribute.String("gatehouse.decision", outcomeNames[outcome]),
		attribute.String("gatehouse.reason", reason),
		attribute.String("gatehouse.decision_id", d.id))
	for _, kv := range [...]struct{ key, val string }{
		{"gatehouse.route", d.route}, {"gatehouse.resource.kind", d.kind}, {"gatehouse.action", d.action},
		{"gatehouse.policy", d.policy}, {"gatehouse.rule", d.rule},
	} {
		if kv.val != "" {
			attrs = append(attrs, attribute.String(kv.key, kv.val))
		}
	}
	if d.httpStatus != 0 {
		attrs = append(attrs, attribute.Int("http.response.status_code", d.httpStatus))
	}
	if s.tel.principal && d.principalID != "" {
		attrs = append(attrs, attribute.String("gatehouse.principal.id", d.principalID))
	}
	span.SetAttributes(attrs...)
}

// logDecision writes the decision-log line of a check. Without tracing, the trace id is
// still read from the request's headers (traceparent or B3), so that lines join Envoy's
// traces.
func (s *Server) logDecision(ctx context.Context, span trace.Span, req *authv3.CheckRequest, d *decision, outcome int, reason string, start time.Time, elapsed time.Duration) {
	r := decisionlog.Record{
		Time: start, DecisionID: d.id, Decision: outcomeNames[outcome], Status: d.httpStatus, Reason: reason,
		Route: d.route, PrincipalID: d.principalID, Roles: d.roles, IdentitySource: d.source, PrincipalAttr: d.attrs,
		ResourceKind: d.kind, Action: d.action, MatchedPolicy: d.policy, MatchedRule: d.rule, MatchedScope: d.scope,
		Latency: elapsed,
	}
	if d.allow {
		r.Status = 200
	}
	if d.set != nil {
		r.PolicySetHash = d.set.Hash()
	}
	if res := d.res; res != nil {
		if v := res.View; v != nil {
			r.Method, r.Path = v.Method, v.Path
		}
		if !res.Pass {
			r.ResourceID, r.ResourceAttr = res.Input.Resource.ID, res.Input.Resource.Attr
		}
	}
	switch {
	case span != nil:
		if sc := span.SpanContext(); sc.IsValid() {
			r.TraceID, r.SpanID = sc.TraceID().String(), sc.SpanID().String()
		}
	case d.traceID != "":
		r.TraceID = d.traceID
	default:
		h := req.GetAttributes().GetRequest().GetHttp()
		if id, _, ok := w3cParent(h); ok {
			r.TraceID = id
		} else if sc := trace.SpanContextFromContext(extractTrace(ctx, h)); sc.HasTraceID() {
			r.TraceID = sc.TraceID().String() // B3, or a traceparent of another form
		}
	}
	s.tel.dlog.Log(&r)
}
