package mapping

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/gatehouse/gatehouse/mapping/internal/jwtverify"
	"github.com/gatehouse/gatehouse/policies"
)

// Kind classifies why a request could not be mapped; the server turns it into a status.
type Kind int

const (
	// KindMalformed: the request is malformed or ambiguous (HTTP 400).
	KindMalformed Kind = iota + 1
	// KindUnauthenticated: no valid identity could be established (HTTP 401).
	KindUnauthenticated
	// KindForbidden: the request is refused without a policy decision, e.g. no route
	// matches (HTTP 403).
	KindForbidden
	// KindInternal: gatehouse itself failed (an RPC error, so Envoy's failure mode decides).
	KindInternal
)

// Error is a request that cannot be mapped. Reason is a short, stable code for logs,
// metrics and the deny body; Err says more and never contains a credential.
type Error struct {
	Kind   Kind
	Reason string
	Err    error
}

func (e *Error) Error() string {
	if e.Err == nil {
		return e.Reason
	}
	return e.Reason + ": " + e.Err.Error()
}

func (e *Error) Unwrap() error { return e.Err }

// Result is a mapped request.
type Result struct {
	// Input is the policy question. Unset when Pass is true.
	Input policies.Input
	// Pass is true when the configuration lets the request through unchecked (no route
	// matched and requests.unmatched is "allow", or a non-HTTP request with nonHTTP "allow").
	Pass bool
	// Route is the name of the matched route.
	Route string
	// IdentitySource names the source of the principal ("jwt", "spiffe", ...).
	IdentitySource string
	// View is the decoded request.
	View *RequestView

	scratch *scratch
}

// scratch holds everything one Map call allocates; it is recycled by Result.Release.
type scratch struct {
	res      Result
	view     RequestView
	act      activation
	resAttr  map[string]any
	prinAttr map[string]any
	roles    []string
	actions  [1]string
}

var scratchPool = sync.Pool{New: func() any {
	s := &scratch{resAttr: map[string]any{}, prinAttr: map[string]any{}}
	s.act.init()
	return s
}}

// Release returns the result's memory for reuse. The result, its View and its Input
// (including attribute maps and role lists) must not be used afterwards. Calling it is
// optional; it saves allocations on the request path.
func (r *Result) Release() {
	s := r.scratch
	if s == nil {
		return
	}
	clear(s.resAttr)
	clear(s.prinAttr)
	clear(s.roles)
	roles, resAttr, prinAttr := s.roles[:0], s.resAttr, s.prinAttr
	s.act.reset(nil)
	params := s.act.params[:0]
	*s = scratch{act: s.act, resAttr: resAttr, prinAttr: prinAttr, roles: roles}
	s.act.params = params
	scratchPool.Put(s)
}

// Mapper turns CheckRequests into policy inputs. It is safe for concurrent use.
type Mapper struct {
	routes         []*route
	sources        []identitySource
	unmatchedAllow bool
	nonHTTPAllow   bool
	allowAmbiguous bool
	maxBody        int
}

// New compiles the configuration: every route and expression is checked, JWKS files and
// URLs are loaded. All problems are returned at once, each prefixed with its key path.
func New(ctx context.Context, cfg Config) (*Mapper, error) {
	var errs []error
	m := &Mapper{allowAmbiguous: cfg.Requests.AllowAmbiguousPaths, maxBody: cfg.Requests.MaxBodyBytes}
	if m.maxBody <= 0 {
		m.maxBody = 1 << 20
	}
	switch cfg.Requests.Unmatched {
	case "", "deny":
	case "allow":
		m.unmatchedAllow = true
	default:
		errs = append(errs, fmt.Errorf("requests.unmatched: %q is not deny or allow", cfg.Requests.Unmatched))
	}
	switch cfg.Requests.NonHTTP {
	case "", "deny":
	case "allow":
		m.nonHTTPAllow = true
	default:
		errs = append(errs, fmt.Errorf("requests.nonHTTP: %q is not deny or allow", cfg.Requests.NonHTTP))
	}
	for i, rt := range cfg.Routes {
		r, rerrs := compileRoute(rt, fmt.Sprintf("routes[%d]", i))
		errs = append(errs, rerrs...)
		m.routes = append(m.routes, r)
	}
	for i, src := range cfg.Identity.Sources {
		s, serrs := newSource(ctx, src, fmt.Sprintf("identity.sources[%d]", i), cfg.Observer)
		errs = append(errs, serrs...)
		if s != nil {
			m.sources = append(m.sources, s)
		}
	}
	if err := errors.Join(errs...); err != nil {
		m.Close()
		return nil, err
	}
	return m, nil
}

// Close stops background work (JWKS refreshes).
func (m *Mapper) Close() error {
	var errs []error
	for _, s := range m.sources {
		errs = append(errs, s.close())
	}
	return errors.Join(errs...)
}

func newSource(ctx context.Context, src Source, path string, obs Observer) (identitySource, []error) {
	n := btoi(src.JWT != nil) + btoi(src.JWTAuthn != nil) + btoi(src.SPIFFE != nil) + btoi(src.Headers != nil) + btoi(src.Anonymous != nil)
	if n != 1 {
		return nil, []error{fmt.Errorf("%s: exactly one of jwt, jwtAuthn, spiffe, headers and anonymous is required", path)}
	}
	switch {
	case src.JWT != nil:
		c := src.JWT
		b, errs := compilePrincipal(c.Principal, "claims.sub", "", path+".jwt")
		if (c.JWKS.File == "") == (c.JWKS.URL == "") {
			errs = append(errs, fmt.Errorf("%s.jwt.jwks: exactly one of file and url is required", path))
		}
		if len(errs) > 0 {
			return nil, errs
		}
		vc := jwtverify.DefaultConfig() // requires exp
		vc.JWKSFile, vc.JWKSURL = c.JWKS.File, c.JWKS.URL
		if c.JWKS.RefreshInterval != 0 {
			vc.RefreshInterval = c.JWKS.RefreshInterval
		}
		if len(c.Algorithms) > 0 {
			vc.Algorithms = c.Algorithms
		}
		if c.ClockSkew != 0 {
			vc.ClockSkew = c.ClockSkew
		}
		vc.Issuers, vc.Audiences = c.Issuers, c.Audiences
		if obs != nil {
			vc.OnLoad = obs.KeysLoaded
		}
		v, err := jwtverify.New(ctx, vc)
		if err != nil {
			return nil, []error{fmt.Errorf("%s.jwt.jwks: %w", path, err)}
		}
		s := &jwtSource{header: strings.ToLower(c.Header), verifier: v, builder: b, prefix: "Bearer ", observer: obs}
		if s.header == "" {
			s.header = "authorization"
		}
		if c.Prefix != nil {
			s.prefix = *c.Prefix
		}
		return s, nil
	case src.JWTAuthn != nil:
		c := src.JWTAuthn
		b, errs := compilePrincipal(c.Principal, "claims.sub", "", path+".jwtAuthn")
		ns := c.Namespace
		if ns == "" {
			ns = "envoy.filters.http.jwt_authn"
		}
		return &jwtAuthnSource{namespace: ns, key: c.PayloadKey, builder: b}, errs
	case src.SPIFFE != nil:
		c := src.SPIFFE
		b, errs := compilePrincipal(c.Principal, "spiffe.id", `["service"]`, path+".spiffe")
		if len(c.TrustDomains) == 0 {
			errs = append(errs, fmt.Errorf("%s.spiffe.trustDomains: value is required", path))
		}
		return &spiffeSource{trustDomains: c.TrustDomains, ids: c.IDs, builder: b}, errs
	case src.Headers != nil:
		c := src.Headers
		var errs []error
		if len(c.TrustedPeers) == 0 {
			errs = append(errs, fmt.Errorf("%s.headers.trustedPeers: value is required (identity headers are trusted only from these peers)", path))
		}
		if c.IDHeader == "" || c.RolesHeader == "" {
			errs = append(errs, fmt.Errorf("%s.headers: idHeader and rolesHeader are required", path))
		}
		return &headersSource{trustedPeers: c.TrustedPeers, idHeader: strings.ToLower(c.IDHeader), rolesHeader: strings.ToLower(c.RolesHeader)}, errs
	default:
		c := src.Anonymous
		p := policies.Principal{ID: c.ID, Roles: c.Roles}
		if p.ID == "" {
			p.ID = "anonymous"
		}
		if len(p.Roles) == 0 {
			p.Roles = []string{"anonymous"}
		}
		return &anonymousSource{principal: p}, nil
	}
}

// Map reads a CheckRequest and returns the policy input, or an *Error.
func (m *Mapper) Map(ctx context.Context, req *authv3.CheckRequest) (*Result, error) {
	sc := scratchPool.Get().(*scratch)
	view := &sc.view
	pathErr := view.reset(req, m.allowAmbiguous, m.maxBody)
	res := &sc.res
	res.View, res.scratch = view, sc
	if !view.HTTP {
		if m.nonHTTPAllow {
			res.Pass = true
			return res, nil
		}
		return res, &Error{Kind: KindForbidden, Reason: "non_http", Err: errors.New("the request has no HTTP part")}
	}
	if pathErr != nil {
		return res, &Error{Kind: KindMalformed, Reason: "malformed_path", Err: pathErr}
	}
	act := &sc.act
	act.reset(view)
	act.scratch = sc
	rt, err := m.matchRoute(view, act)
	if err != nil {
		return res, err
	}
	if rt == nil {
		if m.unmatchedAllow {
			res.Pass = true
			return res, nil
		}
		return res, &Error{Kind: KindForbidden, Reason: "no_route", Err: fmt.Errorf("no route for %s %s", view.Method, view.Path)}
	}
	res.Route = rt.name

	id, err := m.identify(ctx, act)
	if err != nil {
		return res, err
	}
	res.IdentitySource = id.source
	act.claims = id.claims

	in := &res.Input
	in.Principal = id.principal
	if in.Resource, err = rt.resource(act); err != nil {
		return res, &Error{Kind: KindMalformed, Reason: "unmappable_request", Err: err}
	}
	action, err := rt.actionFor(view, act)
	if err != nil {
		return res, &Error{Kind: KindMalformed, Reason: "unmappable_request", Err: err}
	}
	if action == "" {
		return res, &Error{Kind: KindForbidden, Reason: "no_action", Err: fmt.Errorf("route %s has no action for method %s", rt.name, view.Method)}
	}
	sc.actions[0] = action
	in.Actions = sc.actions[:]
	if view.ID != "" {
		in.RequestID = view.ID
	}
	return res, nil
}

func (m *Mapper) matchRoute(view *RequestView, act *activation) (*route, error) {
	for _, rt := range m.routes {
		ok, err := rt.match(view, act)
		if err != nil {
			return nil, &Error{Kind: KindMalformed, Reason: "unmappable_request", Err: fmt.Errorf("route %s: %w", rt.name, err)}
		}
		if ok {
			return rt, nil
		}
	}
	return nil, nil
}

// identify tries each source in order. A source whose credential is present but invalid
// ends the search: a bad token never falls back to anonymous access.
func (m *Mapper) identify(ctx context.Context, act *activation) (*identity, error) {
	for _, s := range m.sources {
		id, err := s.identify(ctx, act)
		if err != nil {
			return nil, err
		}
		if id != nil {
			if len(id.principal.Roles) == 0 {
				return nil, &Error{Kind: KindForbidden, Reason: "no_roles", Err: fmt.Errorf("principal %q has no roles", id.principal.ID)}
			}
			return id, nil
		}
	}
	return nil, &Error{Kind: KindUnauthenticated, Reason: "unauthenticated", Err: errors.New("no credentials")}
}

// resource evaluates the route's resource expressions.
func (r *route) resource(act *activation) (policies.Resource, error) {
	res := policies.Resource{Kind: r.kind}
	str := func(x *expr, what string) (string, error) {
		if x == nil {
			return "", nil
		}
		return x.evalString(act, what)
	}
	var err error
	if r.kindExpr != nil {
		if res.Kind, err = str(r.kindExpr, "resource kind"); err != nil {
			return res, err
		}
	}
	if res.ID, err = str(r.id, "resource id"); err != nil {
		return res, err
	}
	if res.PolicyVersion, err = str(r.policyVersion, "policy version"); err != nil {
		return res, err
	}
	if res.Scope, err = str(r.scope, "scope"); err != nil {
		return res, err
	}
	if res.Kind == "" || res.ID == "" {
		return res, errors.New("resource kind and id must not be empty")
	}
	if len(r.attr) > 0 {
		res.Attr = act.scratch.resAttr
		for _, a := range r.attr {
			v, err := a.expr.evalGo(act)
			if err != nil {
				continue // an attribute the request does not carry is left out
			}
			res.Attr[a.name] = v
		}
	}
	return res, nil
}

var jsonValueType = reflect.TypeOf(&structpb.Value{})

// jsonValue converts a CEL value into a JSON-like Go value for policy attributes.
func jsonValue(v ref.Val) (any, error) {
	switch x := v.(type) {
	case types.String:
		return string(x), nil
	case types.Bool:
		return bool(x), nil
	case types.Double:
		return float64(x), nil
	case types.Int:
		return float64(x), nil
	}
	native, err := v.ConvertToNative(jsonValueType)
	if err != nil {
		return nil, err
	}
	return native.(*structpb.Value).AsInterface(), nil
}
