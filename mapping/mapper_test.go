package mapping

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/gatehouse/gatehouse/policies"
)

// newRequest builds a CheckRequest like Envoy's HTTP filter (see extauthz/internal/extauthztest
// for the shared builder; mapping cannot import it).
func newRequest(method, path string, headers ...string) *authv3.CheckRequest {
	h := map[string]string{":method": method, ":path": path, ":authority": "docs.example.com"}
	for i := 0; i+1 < len(headers); i += 2 {
		h[strings.ToLower(headers[i])] = headers[i+1]
	}
	return &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
		Source: &authv3.AttributeContext_Peer{},
		Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{
			Method: method, Path: path, Host: "docs.example.com", Headers: h,
		}},
	}}
}

func anonymousOnly() IdentityConfig {
	return IdentityConfig{Sources: []Source{{Anonymous: &AnonymousSource{}}}}
}

func mustMapper(t testing.TB, cfg Config) *Mapper {
	t.Helper()
	m, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

func TestRoutes(t *testing.T) {
	m := mustMapper(t, Config{
		Identity: anonymousOnly(),
		Routes: []Route{
			{Name: "doc", Match: RouteMatch{Template: "/api/users/{user}/documents/{id}"},
				Resource: ResourceExprs{Kind: "document", Attr: map[string]string{"owner": "params.user", "lang": "request.query.lang", "title": "request.body.title"}}},
			{Name: "files", Match: RouteMatch{Template: "/files/{path...}", Methods: []string{"get"}},
				Resource: ResourceExprs{Kind: "file", ID: "params.path"}},
			{Name: "static", Match: RouteMatch{Prefix: "/static", Hosts: []string{"*.example.com"}},
				Resource: ResourceExprs{Kind: "static", ID: `"assets"`}, Action: "fetch"},
			{Name: "exact", Match: RouteMatch{Path: "/status", ContextExtensions: map[string]string{"svc": "docs"}},
				Resource:   ResourceExprs{KindExpr: "context.kind", ID: `"status"`, Scope: "context.scope", PolicyVersion: `"v2"`},
				ActionExpr: `request.method == "GET" ? "peek" : "poke"`},
			{Name: "versioned", Match: RouteMatch{Template: "/v/{id}", When: `request.headers["x-api"] == "2"`},
				Resource: ResourceExprs{Kind: "thing"}, Actions: map[string]string{"GET": "get", "*": "other"}},
		},
	})
	withCtx := func(req *authv3.CheckRequest, kv ...string) *authv3.CheckRequest {
		req.Attributes.ContextExtensions = map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			req.Attributes.ContextExtensions[kv[i]] = kv[i+1]
		}
		return req
	}
	withBody := func(req *authv3.CheckRequest, body string) *authv3.CheckRequest {
		req.Attributes.Request.Http.Body = body
		req.Attributes.Request.Http.Headers["content-type"] = "application/json; charset=utf-8"
		return req
	}
	withTextBody := func(req *authv3.CheckRequest, body string) *authv3.CheckRequest {
		req.Attributes.Request.Http.Body = body
		req.Attributes.Request.Http.Headers["content-type"] = "text/plain"
		return req
	}
	tests := []struct {
		name   string
		req    *authv3.CheckRequest
		route  string
		res    policies.Resource
		action string
		reason string // error reason instead
	}{
		{name: "template", req: newRequest("PUT", "/api/users/alice/documents/42?lang=fr"), route: "doc",
			res:    policies.Resource{Kind: "document", ID: "42", Attr: map[string]any{"owner": "alice", "lang": "fr"}},
			action: "update"},
		{name: "json body", req: withBody(newRequest("PATCH", "/api/users/alice/documents/42"), `{"title":"Q3"}`), route: "doc",
			res: policies.Resource{Kind: "document", ID: "42", Attr: map[string]any{"owner": "alice", "title": "Q3"}}, action: "update"},
		{name: "non-json body is not read", req: withTextBody(newRequest("PATCH", "/api/users/alice/documents/42"), `{"title":"Q3"}`), route: "doc",
			res: policies.Resource{Kind: "document", ID: "42", Attr: map[string]any{"owner": "alice"}}, action: "update"},
		{name: "template needs every segment", req: newRequest("GET", "/api/users/alice/documents"), reason: "no_route"},
		{name: "template has no extra segments", req: newRequest("GET", "/api/users/alice/documents/42/x"), reason: "no_route"},
		{name: "rest parameter", req: newRequest("GET", "/files/a/b/c.txt"), route: "files", res: policies.Resource{Kind: "file", ID: "a/b/c.txt"}, action: "read"},
		{name: "method filter", req: newRequest("DELETE", "/files/a"), reason: "no_route"},
		{name: "a GET route answers HEAD", req: newRequest("HEAD", "/files/a"), route: "files", res: policies.Resource{Kind: "file", ID: "a"}, action: "read"},
		{name: "HEAD takes GET's action from the table", req: newRequest("HEAD", "/v/1", "x-api", "2"), route: "versioned", res: policies.Resource{Kind: "thing", ID: "1"}, action: "get"},
		{name: "prefix at a segment boundary", req: newRequest("GET", "/static/app.js"), route: "static", res: policies.Resource{Kind: "static", ID: "assets"}, action: "fetch"},
		{name: "prefix is not a string prefix", req: newRequest("GET", "/staticfoo"), reason: "no_route"},
		{name: "context extensions and expressions", req: withCtx(newRequest("GET", "/status"), "svc", "docs", "kind", "health", "scope", "acme.eu"),
			route: "exact", res: policies.Resource{Kind: "health", ID: "status", Scope: "acme.eu", PolicyVersion: "v2"}, action: "peek"},
		{name: "context extension mismatch", req: withCtx(newRequest("GET", "/status"), "svc", "other"), reason: "no_route"},
		{name: "when condition", req: newRequest("GET", "/v/1", "x-api", "2"), route: "versioned", res: policies.Resource{Kind: "thing", ID: "1"}, action: "get"},
		{name: "when condition false", req: newRequest("GET", "/v/1", "x-api", "1"), reason: "no_route"},
		{name: "default action of the table", req: newRequest("POST", "/v/1", "x-api", "2"), route: "versioned", res: policies.Resource{Kind: "thing", ID: "1"}, action: "other"},
		{name: "expression error is a bad request", req: withCtx(newRequest("GET", "/status"), "svc", "docs"), reason: "unmappable_request"},
		{name: "ambiguous path", req: newRequest("GET", "/files/a%2Fb"), reason: "malformed_path"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := m.Map(context.Background(), tt.req)
			if tt.reason != "" {
				var me *Error
				if !errors.As(err, &me) || me.Reason != tt.reason {
					t.Fatalf("got %+v, %v; want reason %s", res, err, tt.reason)
				}
				return
			}
			if err != nil {
				t.Fatalf("Map: %v", err)
			}
			if res.Route != tt.route || !reflect.DeepEqual(res.Input.Resource, tt.res) || len(res.Input.Actions) != 1 || res.Input.Actions[0] != tt.action {
				t.Errorf("got route %s resource %+v actions %v; want %s %+v %s", res.Route, res.Input.Resource, res.Input.Actions, tt.route, tt.res, tt.action)
			}
		})
	}
}

func TestIdentitySources(t *testing.T) {
	gateway := "spiffe://cluster.local/ns/edge/sa/gateway"
	m := mustMapper(t, Config{
		Identity: IdentityConfig{Sources: []Source{
			{JWTAuthn: &JWTAuthnSource{Principal: PrincipalExprs{Roles: "claims.groups", Attr: map[string]string{"tenant": "claims.tenant"}}}},
			{Headers: &HeadersSource{TrustedPeers: []string{gateway}, IDHeader: "x-user", RolesHeader: "x-roles"}},
			{SPIFFE: &SPIFFESource{TrustDomains: []string{"cluster.local"}, IDs: []string{"spiffe://cluster.local/ns/*/sa/*"},
				Principal: PrincipalExprs{Attr: map[string]string{"ns": "spiffe.namespace"}}}},
			{Anonymous: &AnonymousSource{ID: "guest", Roles: []string{"guest", "reader"}}},
		}},
		Routes: []Route{{Match: RouteMatch{Prefix: "/"}, Resource: ResourceExprs{Kind: "page"}}},
	})
	jwtAuthn := func(req *authv3.CheckRequest, claims map[string]any) *authv3.CheckRequest {
		payload, _ := structpb.NewStruct(map[string]any{"payload": claims})
		req.Attributes.MetadataContext = &corev3.Metadata{FilterMetadata: map[string]*structpb.Struct{"envoy.filters.http.jwt_authn": payload}}
		return req
	}
	peer := func(req *authv3.CheckRequest, p string) *authv3.CheckRequest {
		req.Attributes.Source.Principal = p
		return req
	}
	tests := []struct {
		name   string
		req    *authv3.CheckRequest
		source string
		want   policies.Principal
		reason string
	}{
		{name: "jwt_authn metadata", req: jwtAuthn(newRequest("GET", "/"), map[string]any{"sub": "ann", "groups": []any{"staff", "staff", "ops"}, "tenant": "t1"}),
			source: "jwt_authn", want: policies.Principal{ID: "ann", Roles: []string{"staff", "ops"}, Attr: map[string]any{"tenant": "t1"}}},
		{name: "jwt_authn claims without subject", req: jwtAuthn(newRequest("GET", "/"), map[string]any{"groups": []any{"staff"}}), reason: "invalid_token"},
		{name: "jwt_authn comma-separated roles", req: jwtAuthn(newRequest("GET", "/"), map[string]any{"sub": "ann", "groups": "a, b"}),
			source: "jwt_authn", want: policies.Principal{ID: "ann", Roles: []string{"a", "b"}}},
		{name: "trusted headers from the gateway", req: peer(newRequest("GET", "/", "x-user", "dave", "x-roles", "user,beta"), gateway),
			source: "headers", want: policies.Principal{ID: "dave", Roles: []string{"user", "beta"}}},
		{name: "identity headers from anyone else are ignored", req: peer(newRequest("GET", "/", "x-user", "dave", "x-roles", "admin"), "spiffe://cluster.local/ns/shop/sa/cart"),
			source: "spiffe", want: policies.Principal{ID: "spiffe://cluster.local/ns/shop/sa/cart", Roles: []string{"service"}, Attr: map[string]any{"ns": "shop"}}},
		{name: "spiffe outside the allowed ids", req: peer(newRequest("GET", "/"), "spiffe://cluster.local/custom/path"),
			source: "anonymous", want: policies.Principal{ID: "guest", Roles: []string{"guest", "reader"}}},
		{name: "not a spiffe id", req: peer(newRequest("GET", "/"), "CN=client"),
			source: "anonymous", want: policies.Principal{ID: "guest", Roles: []string{"guest", "reader"}}},
		{name: "anonymous", req: newRequest("GET", "/"), source: "anonymous", want: policies.Principal{ID: "guest", Roles: []string{"guest", "reader"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := m.Map(context.Background(), tt.req)
			if tt.reason != "" {
				var me *Error
				if !errors.As(err, &me) || me.Reason != tt.reason {
					t.Fatalf("got %v; want reason %s", err, tt.reason)
				}
				return
			}
			if err != nil {
				t.Fatalf("Map: %v", err)
			}
			if res.IdentitySource != tt.source || !reflect.DeepEqual(res.Input.Principal, tt.want) {
				t.Errorf("got %s %+v, want %s %+v", res.IdentitySource, res.Input.Principal, tt.source, tt.want)
			}
		})
	}
}

func TestNoSourceIsUnauthenticated(t *testing.T) {
	m := mustMapper(t, Config{
		Identity: IdentityConfig{Sources: []Source{{SPIFFE: &SPIFFESource{TrustDomains: []string{"cluster.local"}}}}},
		Routes:   []Route{{Match: RouteMatch{Prefix: "/"}, Resource: ResourceExprs{Kind: "page"}}},
	})
	_, err := m.Map(context.Background(), newRequest("GET", "/"))
	var me *Error
	if !errors.As(err, &me) || me.Kind != KindUnauthenticated {
		t.Fatalf("got %v, want unauthenticated", err)
	}
}

func TestUnmatchedAndNonHTTP(t *testing.T) {
	m := mustMapper(t, Config{Identity: anonymousOnly(), Requests: RequestsConfig{Unmatched: "allow", NonHTTP: "allow"}})
	for _, req := range []*authv3.CheckRequest{newRequest("GET", "/anything"), {Attributes: &authv3.AttributeContext{}}, {}} {
		res, err := m.Map(context.Background(), req)
		if err != nil || !res.Pass {
			t.Errorf("got %+v, %v; want a pass", res, err)
		}
	}
}

func TestConfigErrors(t *testing.T) {
	_, err := New(context.Background(), Config{
		Identity: IdentityConfig{Sources: []Source{
			{},
			{Anonymous: &AnonymousSource{}, SPIFFE: &SPIFFESource{}},
			{JWT: &JWTSource{}},
			{Headers: &HeadersSource{IDHeader: "x-user"}},
			{JWTAuthn: &JWTAuthnSource{Principal: PrincipalExprs{ID: "claims.sub +", Roles: "claims.groups"}}},
		}},
		Routes: []Route{
			{Match: RouteMatch{Path: "/a", Prefix: "/b"}, Resource: ResourceExprs{Kind: "x"}},
			{Match: RouteMatch{Template: "/a/{id"}, Resource: ResourceExprs{Kind: "x"}},
			{Match: RouteMatch{Template: "/a/{rest...}/b"}, Resource: ResourceExprs{Kind: "x"}},
			{Match: RouteMatch{Path: "/a", When: "request.methd == 'GET'"}, Resource: ResourceExprs{Kind: "x"}},
			{Match: RouteMatch{Path: "/a"}, Resource: ResourceExprs{Kind: "x", ID: "1 + 1"}},
			{Match: RouteMatch{Path: "/a"}, Resource: ResourceExprs{}, Action: "a", ActionExpr: `"b"`},
		},
		Requests: RequestsConfig{Unmatched: "maybe"},
	})
	if err == nil {
		t.Fatal("New succeeded")
	}
	for _, want := range []string{
		"requests.unmatched:",
		"identity.sources[0]: exactly one of",
		"identity.sources[1]: exactly one of",
		"identity.sources[2].jwt.jwks: exactly one of file and url",
		"identity.sources[2].jwt.principal.roles: value is required",
		"identity.sources[3].headers.trustedPeers",
		"identity.sources[4].jwtAuthn.principal.id: invalid expression",
		"routes[0].match: exactly one of path, prefix and template",
		"routes[1].match.template:",
		"routes[2].match.template:",
		"routes[3].match.when: invalid expression",
		"routes[4].resource.id: expression \"1 + 1\" has type int, want string",
		"routes[5].resource.kind: value is required",
		"routes[5].actions: actions, action and actionExpr are exclusive",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in:\n%v", want, err)
		}
	}
}
