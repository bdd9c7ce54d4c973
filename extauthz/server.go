package extauthz

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"log/slog"
	"math/rand/v2"
	"runtime/debug"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/gatehouse/gatehouse/mapping"
	"github.com/gatehouse/gatehouse/policies"
)

// Server answers Envoy's Check calls. It is safe for concurrent use; the policy set can
// be replaced at any time with SetPolicies.
type Server struct {
	authv3.UnimplementedAuthorizationServer

	cfg         *Config
	mapper      *mapping.Mapper
	policies    atomic.Pointer[policies.Set]
	attrHeaders []string // sorted names of attribute headers
	log         *slog.Logger
	now         func() time.Time
	values      valueCache
	tel         *telemetry
}

// NewServer builds the server from a loaded configuration and a mapper. Policies are set
// separately (SetPolicies); until then every check is an Unavailable error.
func NewServer(cfg *Config, m *mapping.Mapper, log *slog.Logger) *Server {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{cfg: cfg, mapper: m, log: log, now: time.Now, tel: disabledTelemetry()}
	for name := range cfg.Response.Headers.Attributes {
		s.attrHeaders = append(s.attrHeaders, name)
	}
	sort.Strings(s.attrHeaders)
	return s
}

// SetPolicies installs a compiled policy set; checks in flight finish with the old one.
func (s *Server) SetPolicies(set *policies.Set) { s.policies.Store(set) }

// Ready reports whether policies are loaded.
func (s *Server) Ready() bool { return s.policies.Load() != nil }

// errNotReady is returned before policies are loaded.
// serverSpan makes the check span a server span.
var serverSpan = trace.WithSpanKind(trace.SpanKindServer)

var errNotReady = status.Error(codes.Unavailable, "policies are not loaded yet")

// Check implements envoy.service.auth.v3.Authorization. Every outcome is mapped here:
// malformed requests are denied with 400, requests without a valid identity with 401,
// policy denials with 403; gatehouse's own faults (not ready, deadline, panic) are RPC
// errors, so Envoy's failure_mode_allow and status_on_error decide, never a silent allow.
func (s *Server) Check(ctx context.Context, req *authv3.CheckRequest) (resp *authv3.CheckResponse, err error) {
	start := time.Now()
	tel := s.tel
	if tel.metrics {
		tel.inFlight.Add(1)
	}
	d := &decision{id: newDecisionID()}
	var span trace.Span
	if tel.tracer != nil {
		// Most requests come with a traceparent that Envoy did not sample: with a sampler
		// that follows the parent, they start no span, and the header is read only once.
		h := req.GetAttributes().GetRequest().GetHttp()
		if id, sampled, ok := w3cParent(h); ok && !sampled && tel.parentDecides {
			d.traceID = id
		} else {
			ctx = extractTrace(ctx, h)
			if sc := trace.SpanContextFromContext(ctx); !tel.parentDecides || !sc.IsValid() || sc.IsSampled() {
				ctx, span = tel.tracer.Start(ctx, "gatehouse.check", serverSpan)
			}
		}
	}
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("check panicked", "decision_id", d.id, "panic", r, "stack", string(debug.Stack()))
			resp, err = nil, status.Error(codes.Internal, "internal error")
		}
		s.report(ctx, span, req, d, err, start)
		if d.res != nil {
			d.res.Release() // the decision refers to the mapped input until here
		}
	}()
	set := s.policies.Load()
	if set == nil {
		return nil, errNotReady
	}
	d.set = set
	if limit := s.cfg.Server.CheckTimeout; limit > 0 {
		// Envoy's own deadline (grpc-timeout) is usually the tighter one; only add ours
		// when it is.
		if deadline, ok := ctx.Deadline(); !ok || time.Until(deadline) > limit {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, limit)
			defer cancel()
		}
	}
	d.res = s.decide(ctx, set, req, d)
	if err := ctx.Err(); err != nil {
		return nil, status.FromContextError(err).Err()
	}
	if d.httpStatus == 0 && !d.allow {
		return nil, status.Error(codes.Internal, "internal error")
	}
	return s.respond(d), nil
}

// decide fills in the decision; an internal fault leaves d.httpStatus zero and !allow. It
// returns the mapping result, which the caller releases once the response is built.
func (s *Server) decide(ctx context.Context, set *policies.Set, req *authv3.CheckRequest, d *decision) *mapping.Result {
	mapCtx, span := s.tel.startChild(ctx, "gatehouse.map")
	res, err := s.mapper.Map(mapCtx, req)
	if span != nil {
		span.End()
	}
	if res != nil {
		d.route = res.Route
	}
	if err != nil {
		var me *mapping.Error
		if !errors.As(err, &me) {
			s.log.Error("mapping failed", "decision_id", d.id, "error", err)
			return res
		}
		d.reason = me.Reason
		switch me.Kind {
		case mapping.KindMalformed:
			d.httpStatus = 400
		case mapping.KindUnauthenticated:
			d.httpStatus = 401
		case mapping.KindForbidden:
			d.httpStatus = 403
		default:
			s.log.Error("mapping failed", "decision_id", d.id, "reason", me.Reason, "error", me.Err)
			d.reason = ""
			return res
		}
		s.log.Debug("denied before policy evaluation", "decision_id", d.id, "reason", me.Reason, "error", me.Err)
		return res
	}
	if res.Pass {
		d.allow, d.reason = true, ReasonUnchecked
		return res
	}
	in := &res.Input
	d.principalID, d.roles, d.attrs, d.source = in.Principal.ID, in.Principal.Roles, in.Principal.Attr, res.IdentitySource
	d.kind, d.action = in.Resource.Kind, in.Actions[0]
	if err := in.Validate(); err != nil {
		d.httpStatus, d.reason = 400, "unmappable_request"
		s.log.Debug("mapped input is invalid", "decision_id", d.id, "error", err)
		return res
	}
	if in.RequestID == "" {
		in.RequestID = d.id
	}
	out := outputPool.Get().(*policies.Output)
	defer outputPool.Put(out)
	if _, span := s.tel.startChild(ctx, "gatehouse.evaluate"); span != nil {
		set.CheckOne(in, s.now(), out)
		span.End()
	} else {
		set.CheckOne(in, s.now(), out)
	}
	a := out.Actions[0]
	d.policy, d.rule, d.scope = a.Policy, a.Rule, a.Scope
	if a.Effect == policies.EffectAllow {
		d.allow, d.reason = true, ReasonAllowed
		return res
	}
	d.httpStatus, d.reason = 403, ReasonPolicyDenied
	return res
}

// outputPool recycles policy outputs and their slices between checks.
var outputPool = sync.Pool{New: func() any { return new(policies.Output) }}

// newDecisionID returns 128 random bits in hex.
func newDecisionID() string {
	var raw [16]byte
	binary.LittleEndian.PutUint64(raw[:8], rand.Uint64())
	binary.LittleEndian.PutUint64(raw[8:], rand.Uint64())
	var out [32]byte
	hex.Encode(out[:], raw[:])
	return string(out[:])
}
