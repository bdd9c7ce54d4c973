package mapping

import (
	"context"
	"strings"
	"testing"
	"testing/fstest"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"

	"github.com/gatehouse/gatehouse/policies"
)

const fuzzPolicy = `apiVersion: api.cerbos.dev/v1
resourcePolicy:
  resource: document
  version: default
  rules:
    - actions: ["read"]
      effect: EFFECT_ALLOW
      roles: ["*"]
      condition:
        match:
          expr: R.attr.?published.orValue(false) == true
    - actions: ["update", "delete", "read"]
      effect: EFFECT_ALLOW
      roles: ["user"]
      condition:
        match:
          expr: R.attr.owner == P.id
`

// FuzzMap maps arbitrary requests and decides them: nothing panics, and an ALLOW only
// happens for a request that matched a route, with a canonical path free of ambiguity,
// and through a policy rule. Run:
//
//	go test -run '^$' -fuzz FuzzMap -fuzztime 60s ./mapping
func FuzzMap(f *testing.F) {
	m := mustMapper(f, Config{
		Identity: IdentityConfig{Sources: []Source{
			{JWTAuthn: &JWTAuthnSource{Principal: PrincipalExprs{Roles: "claims.roles"}}},
			{Headers: &HeadersSource{TrustedPeers: []string{"spiffe://td/gw"}, IDHeader: "x-user", RolesHeader: "x-roles"}},
			{SPIFFE: &SPIFFESource{TrustDomains: []string{"td"}}},
			{Anonymous: &AnonymousSource{}},
		}},
		Routes: []Route{
			{Match: RouteMatch{Template: "/api/documents/{id}", Methods: []string{"GET"}},
				Resource: ResourceExprs{Kind: "document", Attr: map[string]string{"published": "true"}}, Action: "read"},
			{Match: RouteMatch{Template: "/api/users/{user}/documents/{id}"},
				Resource: ResourceExprs{Kind: "document", Attr: map[string]string{"owner": "params.user", "title": "request.body.title"}}},
			{Match: RouteMatch{Prefix: "/admin/", When: `request.headers["x-admin"] == "yes"`}, Resource: ResourceExprs{Kind: "admin"}},
		},
	})
	set, err := policies.Load(fstest.MapFS{"p.yaml": {Data: []byte(fuzzPolicy)}}, policies.Config{})
	if err != nil {
		f.Fatal(err)
	}
	f.Add("GET", "/api/documents/7", "", "", "", "")
	f.Add("PUT", "/api/users/alice/documents/1", "x-user", "alice", "spiffe://td/gw", `{"title":"t"}`)
	f.Add("DELETE", "/api/users/bob/documents/1/../../alice/documents/2", "x-roles", "user", "", "")
	f.Add("GET", "/api/documents/%2e%2e/admin/x", "x-admin", "yes", "spiffe://td/svc", "")
	f.Add("GET", "//api//documents//7?x=%00", "", "", "", "{")
	f.Add("get", "/api/documents/7#frag", ":path", "/admin/", "", "")
	f.Fuzz(func(t *testing.T, method, path, hname, hvalue, peer, body string) {
		req := &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
			Source: &authv3.AttributeContext_Peer{Principal: peer},
			Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{
				Method: method, Path: path, Body: body,
				Headers: map[string]string{hname: hvalue, "content-type": "application/json", "x-roles": "user"},
			}},
		}}
		if len(body)%2 == 1 { // exercise the raw header encoding too
			req.Attributes.Request.Http.HeaderMap = &corev3.HeaderMap{Headers: []*corev3.HeaderValue{{Key: hname, RawValue: []byte(hvalue)}}}
		}
		res, err := m.Map(context.Background(), req)
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("error of type %T: %v", err, err)
			}
			return
		}
		if res.Pass {
			t.Fatalf("pass without configuration allowing it: %+v", res)
		}
		out := set.Check([]policies.Input{res.Input})[0]
		if out.Actions[0].Effect != policies.EffectAllow {
			return
		}
		p := res.View.Path
		if res.Route == "" || out.Actions[0].Policy == policies.NoMatch ||
			strings.Contains(p, "//") || strings.Contains(p, "/../") || strings.Contains(p, "/./") ||
			strings.HasSuffix(p, "/..") || strings.ContainsAny(p, "\x00\\") {
			t.Fatalf("allowed %q (canonical %q) route %q policy %q", path, p, res.Route, out.Actions[0].Policy)
		}
	})
}
