package mapping

import (
	"context"
	"errors"
	"fmt"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/google/cel-go/common/types"

	"github.com/gatehouse/gatehouse/mapping/internal/jwtverify"
	"github.com/gatehouse/gatehouse/policies"
)

// identity is a principal and where it came from.
type identity struct {
	principal policies.Principal
	source    string // "jwt", "jwt_authn", "spiffe", "headers" or "anonymous"
	claims    map[string]any
}

// identitySource is one configured principal source.
type identitySource interface {
	// identify returns the principal when the source's credential is present and valid,
	// (nil, nil) when the credential is absent, and an error when it is present but
	// invalid (a *Error of KindUnauthenticated) or the source failed (KindInternal).
	identify(ctx context.Context, act *activation) (*identity, error)
	close() error
}

// principalBuilder evaluates PrincipalExprs.
type principalBuilder struct {
	id    *expr
	roles *expr
	attr  []namedExpr
}

func compilePrincipal(p PrincipalExprs, defID, defRoles, path string) (*principalBuilder, []error) {
	var errs []error
	compile := func(field, src, def string, want ...*types.Type) *expr {
		if src == "" {
			src = def
		}
		if src == "" {
			return nil
		}
		x, err := compileExpr(src, want...)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s.principal.%s: %v", path, field, err))
		}
		return x
	}
	b := &principalBuilder{
		id:    compile("id", p.ID, defID, types.StringType),
		roles: compile("roles", p.Roles, defRoles, types.NewListType(types.StringType), types.StringType, types.NewListType(types.DynType)),
	}
	if b.roles == nil {
		errs = append(errs, fmt.Errorf("%s.principal.roles: value is required", path))
	}
	names := make([]string, 0, len(p.Attr))
	for n := range p.Attr {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if x := compile("attr."+n, p.Attr[n], ""); x != nil {
			b.attr = append(b.attr, namedExpr{n, x})
		}
	}
	return b, errs
}

// build evaluates the expressions. Errors are unauthenticated: the credential does not
// carry what the configuration needs (no subject, no roles).
func (b *principalBuilder) build(act *activation) (policies.Principal, error) {
	var p policies.Principal
	id, err := b.id.evalString(act, "principal id")
	if err != nil {
		return p, err
	}
	if id == "" {
		return p, errors.New("principal id is empty")
	}
	p.ID = id
	roles, err := b.roles.evalGo(act)
	if err != nil {
		return p, err
	}
	var buf []string
	if act.scratch != nil {
		buf = act.scratch.roles[:0]
	}
	if p.Roles, err = appendStrings(buf, roles); err != nil {
		return p, fmt.Errorf("roles: %w", err)
	}
	if act.scratch != nil {
		act.scratch.roles = p.Roles
	}
	for _, a := range b.attr {
		v, err := a.expr.evalGo(act)
		if err != nil {
			continue // an attribute the credential lacks is left out
		}
		if p.Attr == nil {
			if act.scratch != nil {
				p.Attr = act.scratch.prinAttr
			} else {
				p.Attr = make(map[string]any, len(b.attr))
			}
		}
		p.Attr[a.name] = v
	}
	return p, nil
}

// stringList accepts a list of strings or one string (comma-separated roles).
func stringList(v any) ([]string, error) { return appendStrings(nil, v) }

// appendStrings appends the non-empty, distinct strings of v (a list of strings or one
// comma-separated string) to out.
func appendStrings(out []string, v any) ([]string, error) {
	add := func(s string) {
		if s != "" && !containsString(out, s) {
			out = append(out, s)
		}
	}
	switch x := v.(type) {
	case string:
		for x != "" {
			var part string
			part, x, _ = strings.Cut(x, ",")
			add(strings.TrimSpace(part))
		}
		return out, nil
	case []any:
		for _, e := range x {
			s, ok := e.(string)
			if !ok {
				return nil, errors.New("not a list of strings")
			}
			add(s)
		}
		return out, nil
	case []string:
		for _, s := range x {
			add(s)
		}
		return out, nil
	}
	return nil, fmt.Errorf("got %T, want a list of strings", v)
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// jwtSource verifies a bearer token with the configured keys.
type jwtSource struct {
	header   string
	prefix   string
	verifier *jwtverify.Verifier
	builder  *principalBuilder
	observer Observer
}

func (s *jwtSource) identify(ctx context.Context, act *activation) (*identity, error) {
	value := act.view.Header(s.header)
	if value == "" {
		return nil, nil
	}
	token := value
	if s.prefix != "" {
		if len(value) < len(s.prefix) || !strings.EqualFold(value[:len(s.prefix)], s.prefix) {
			return nil, nil // another scheme (Basic, ...): not this source's credential
		}
		token = strings.TrimSpace(value[len(s.prefix):])
	}
	var start time.Time
	if s.observer != nil {
		start = time.Now()
	}
	claims, cached, err := s.verifier.VerifyCached(ctx, token)
	if s.observer != nil {
		s.observer.TokenVerified(ctx, tokenOutcome(err), cached, start, time.Since(start))
	}
	switch {
	case err == nil:
	case errors.Is(err, jwtverify.ErrInvalidToken):
		return nil, &Error{Kind: KindUnauthenticated, Reason: "invalid_token", Err: err}
	default: // keys unavailable, or the check ran out of time waiting for them
		return nil, &Error{Kind: KindInternal, Reason: "jwks_unavailable", Err: err}
	}
	act.claims = claims
	p, err := s.builder.build(act)
	if err != nil {
		return nil, &Error{Kind: KindUnauthenticated, Reason: "invalid_token", Err: fmt.Errorf("token claims: %w", err)}
	}
	return &identity{principal: p, source: "jwt", claims: claims}, nil
}

func (s *jwtSource) close() error { return s.verifier.Close() }

// tokenOutcome names the result of a verification for telemetry: a bounded set of values.
func tokenOutcome(err error) string {
	switch {
	case err == nil:
		return "valid"
	case errors.Is(err, jwtverify.ErrInvalidToken):
		if r := jwtverify.ReasonOf(err); r != "" {
			return string(r)
		}
		return "invalid"
	}
	return "keys_unavailable"
}

// jwtAuthnSource reads claims verified by Envoy's jwt_authn filter.
type jwtAuthnSource struct {
	namespace, key string
	builder        *principalBuilder
}

func (s *jwtAuthnSource) identify(_ context.Context, act *activation) (*identity, error) {
	md := act.view.Metadata.GetFilterMetadata()[s.namespace]
	if md == nil || len(md.GetFields()) == 0 {
		return nil, nil
	}
	key := s.key
	if key == "" {
		keys := make([]string, 0, len(md.GetFields()))
		for k := range md.GetFields() {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		key = keys[0]
	}
	payload := md.GetFields()[key].GetStructValue()
	if payload == nil {
		return nil, nil
	}
	claims := payload.AsMap()
	act.claims = claims
	p, err := s.builder.build(act)
	if err != nil {
		return nil, &Error{Kind: KindUnauthenticated, Reason: "invalid_token", Err: fmt.Errorf("jwt_authn claims: %w", err)}
	}
	return &identity{principal: p, source: "jwt_authn", claims: claims}, nil
}

func (s *jwtAuthnSource) close() error { return nil }

// spiffeSource identifies services by their mTLS peer identity.
type spiffeSource struct {
	trustDomains []string
	ids          []string // glob patterns of accepted IDs (empty: any in the trust domains)
	builder      *principalBuilder
}

func (s *spiffeSource) identify(_ context.Context, act *activation) (*identity, error) {
	id := act.view.Source.SPIFFE
	if id == nil || !containsString(s.trustDomains, id.TrustDomain) {
		return nil, nil
	}
	if len(s.ids) > 0 && !matchAnyGlob(s.ids, id.ID) {
		return nil, nil
	}
	act.spiffe = id
	p, err := s.builder.build(act)
	if err != nil {
		return nil, &Error{Kind: KindUnauthenticated, Reason: "invalid_peer", Err: err}
	}
	return &identity{principal: p, source: "spiffe"}, nil
}

func (s *spiffeSource) close() error { return nil }

func matchAnyGlob(patterns []string, s string) bool {
	for _, p := range patterns {
		if ok, _ := path.Match(p, s); ok {
			return true
		}
	}
	return false
}

// headersSource trusts identity headers from configured peers.
type headersSource struct {
	trustedPeers []string
	idHeader     string
	rolesHeader  string
}

func (s *headersSource) identify(_ context.Context, act *activation) (*identity, error) {
	if !containsString(s.trustedPeers, act.view.Source.Principal) {
		return nil, nil
	}
	id := act.view.Header(s.idHeader)
	if id == "" {
		return nil, nil
	}
	roles, _ := stringList(act.view.Header(s.rolesHeader))
	if len(roles) == 0 {
		return nil, &Error{Kind: KindUnauthenticated, Reason: "invalid_headers", Err: fmt.Errorf("header %s is empty", s.rolesHeader)}
	}
	return &identity{principal: policies.Principal{ID: id, Roles: roles}, source: "headers"}, nil
}

func (s *headersSource) close() error { return nil }

// anonymousSource is the last resort.
type anonymousSource struct {
	principal policies.Principal
}

func (s *anonymousSource) identify(context.Context, *activation) (*identity, error) {
	return &identity{principal: s.principal, source: "anonymous"}, nil
}

func (s *anonymousSource) close() error { return nil }
