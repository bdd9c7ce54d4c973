package envoytest_test

import (
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/extauthz/internal/envoytest"
)

// TestCheckRequestHeaders pins the request.http fields Envoy 1.40 fills for a
// plain HTTP/1.1 request without body buffering.
func TestCheckRequestHeaders(t *testing.T) {
	authz := startAuthz(t, "tcp", "", scenarios{}.check)
	env := envoytest.Start(t, envoytest.Config{AuthzTarget: authz.addr})

	do(t, "POST", env.URL()+"/a/../b//c/%2Fd?q=1", "hello",
		"host", "example.test:8080", "x-multi", "1", "x-multi", "2",
		"cookie", "a=1", "cookie", "b=2", "x-bin", "caf\xe9")
	h := authz.Last(t).GetAttributes().GetRequest().GetHttp()

	if h.GetPath() != "/a/../b//c/%2Fd?q=1" {
		t.Errorf("path %q: without normalize_path it is passed through", h.GetPath())
	}
	if h.GetHost() != "example.test:8080" || h.GetMethod() != "POST" || h.GetScheme() != "http" || h.GetProtocol() != "HTTP/1.1" {
		t.Errorf("host %q method %q scheme %q protocol %q", h.GetHost(), h.GetMethod(), h.GetScheme(), h.GetProtocol())
	}
	if h.GetQuery() != "" || h.GetFragment() != "" || h.GetSize() != 0 || h.GetBody() != "" {
		t.Errorf("query %q fragment %q size %d body %q: all should be empty", h.GetQuery(), h.GetFragment(), h.GetSize(), h.GetBody())
	}
	if h.GetId() == "" || strings.Trim(h.GetId(), "0123456789") != "" {
		t.Errorf("id %q is not a decimal stream id", h.GetId())
	}
	if h.GetHeaderMap() != nil {
		t.Error("header_map is set without encode_raw_headers")
	}
	want := map[string]string{
		":authority": "example.test:8080", ":method": "POST", ":path": "/a/../b//c/%2Fd?q=1", ":scheme": "http",
		"x-multi": "1,2", "cookie": "a=1,b=2", "x-bin": "caf!", "content-length": "5",
	}
	for k, v := range want {
		if got := h.GetHeaders()[k]; got != v {
			t.Errorf("headers[%q] = %q, want %q", k, got, v)
		}
	}
	if _, ok := h.GetHeaders()["x-request-id"]; !ok {
		t.Error("no x-request-id header")
	}
	attrs := authz.Last(t).GetAttributes()
	if attrs.GetSource().GetAddress().GetSocketAddress().GetAddress() != "127.0.0.1" || attrs.GetSource().GetPrincipal() != "" {
		t.Errorf("source %v", attrs.GetSource())
	}
	if attrs.GetMetadataContext() == nil || len(attrs.GetMetadataContext().GetFilterMetadata()) != 0 {
		t.Errorf("metadata_context %v, want present and empty", attrs.GetMetadataContext())
	}
}

// TestCheckRequestRawHeadersAndBody pins encode_raw_headers and body
// buffering (partial, packed as bytes), per-route context extensions merged
// over the virtual host's, and a route with ext_authz disabled.
func TestCheckRequestRawHeadersAndBody(t *testing.T) {
	authz := startAuthz(t, "tcp", "", scenarios{}.check)
	env := envoytest.Start(t, envoytest.Config{
		AuthzTarget: authz.addr,
		ExtAuthz: envoytest.ExtAuthz{
			EncodeRawHeaders: true,
			WithRequestBody:  &envoytest.BodySettings{MaxRequestBytes: 8, AllowPartialMessage: true, PackAsBytes: true},
		},
		VirtualHostContextExtensions: map[string]string{"vhost": "1", "kind": "default"},
		Routes: []envoytest.Route{
			{Path: "/public", DisableExtAuthz: true},
			{Prefix: "/orders/", ContextExtensions: map[string]string{"kind": "order"}},
			{Prefix: "/"},
		},
	})

	if r := do(t, "GET", env.URL()+"/public", ""); r.Status != 200 || len(authz.Requests()) != 0 {
		t.Fatalf("disabled route: status %d, %d checks", r.Status, len(authz.Requests()))
	}

	do(t, "POST", env.URL()+"/orders/1", "this is longer than eight", "x-multi", "1", "x-multi", "2", "x-bin", "caf\xe9")
	attrs := authz.Last(t).GetAttributes()
	h := attrs.GetRequest().GetHttp()
	if h.GetHeaders() != nil {
		t.Errorf("headers map %v is set with encode_raw_headers", h.GetHeaders())
	}
	var raw [][2]string
	for _, e := range h.GetHeaderMap().GetHeaders() {
		if e.GetValue() != "" {
			t.Errorf("header_map entry %q has value %q; only raw_value is used", e.GetKey(), e.GetValue())
		}
		if strings.HasPrefix(e.GetKey(), "x-") && e.GetKey() != "x-request-id" && e.GetKey() != "x-forwarded-proto" {
			raw = append(raw, [2]string{e.GetKey(), string(e.GetRawValue())})
		}
	}
	wantRaw := [][2]string{{"x-multi", "1"}, {"x-multi", "2"}, {"x-bin", "caf\xe9"}, {"x-envoy-auth-partial-body", "true"}}
	if !sameElements(raw, wantRaw) {
		t.Errorf("header_map x- entries %q, want %q (any order)", raw, wantRaw)
	}
	if string(h.GetRawBody()) != "this is " || h.GetBody() != "" || h.GetSize() != 25 {
		t.Errorf("raw_body %q body %q size %d", h.GetRawBody(), h.GetBody(), h.GetSize())
	}
	if want := map[string]string{"vhost": "1", "kind": "order"}; !reflect.DeepEqual(attrs.GetContextExtensions(), want) {
		t.Errorf("context_extensions %v, want %v", attrs.GetContextExtensions(), want)
	}

	do(t, "POST", env.URL()+"/other", "")
	attrs = authz.Last(t).GetAttributes()
	if want := map[string]string{"vhost": "1", "kind": "default"}; !reflect.DeepEqual(attrs.GetContextExtensions(), want) {
		t.Errorf("context_extensions %v, want %v", attrs.GetContextExtensions(), want)
	}
	for _, e := range attrs.GetRequest().GetHttp().GetHeaderMap().GetHeaders() {
		if e.GetKey() == "x-envoy-auth-partial-body" {
			t.Error("x-envoy-auth-partial-body is sent for an empty body")
		}
	}
}

// TestBodyTooLarge pins that without allow_partial_message an over-size body
// gets 413 and no check.
func TestBodyTooLarge(t *testing.T) {
	authz := startAuthz(t, "tcp", "", scenarios{}.check)
	env := envoytest.Start(t, envoytest.Config{
		AuthzTarget: authz.addr,
		ExtAuthz:    envoytest.ExtAuthz{WithRequestBody: &envoytest.BodySettings{MaxRequestBytes: 8}},
	})
	if r := do(t, "POST", env.URL()+"/", "this is longer than eight"); r.Status != 413 {
		t.Errorf("status %d, want 413", r.Status)
	}
	do(t, "POST", env.URL()+"/", "short")
	reqs := authz.Requests()
	if len(reqs) != 1 {
		t.Fatalf("%d checks, want 1", len(reqs))
	}
	h := reqs[0].GetAttributes().GetRequest().GetHttp()
	if h.GetBody() != "short" || h.GetHeaders()["x-envoy-auth-partial-body"] != "false" {
		t.Errorf("body %q, partial header %q", h.GetBody(), h.GetHeaders()["x-envoy-auth-partial-body"])
	}
}

// TestHTTP2AndPathNormalization sends a prior-knowledge HTTP/2 request through
// a listener with normalize_path and merge_slashes: the check sees the
// normalised path (%2e%2e is resolved, %2F is kept) and protocol HTTP/2.
func TestHTTP2AndPathNormalization(t *testing.T) {
	authz := startAuthz(t, "tcp", "", scenarios{}.check)
	env := envoytest.Start(t, envoytest.Config{
		AuthzTarget: authz.addr,
		Paths:       envoytest.PathNormalization{NormalizePath: true, MergeSlashes: true},
	})
	var protocols http.Protocols
	protocols.SetUnencryptedHTTP2(true)
	h2 := &http.Client{Transport: &http.Transport{Protocols: &protocols}, Timeout: 10 * time.Second}
	resp, err := h2.Get(env.URL() + "/a/../b//c/%2Fd/%2e%2e/e?q=1")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.ProtoMajor != 2 || resp.StatusCode != 200 {
		t.Errorf("got %s %d", resp.Proto, resp.StatusCode)
	}
	h := authz.Last(t).GetAttributes().GetRequest().GetHttp()
	if h.GetProtocol() != "HTTP/2" || h.GetPath() != "/b/c/e?q=1" {
		t.Errorf("protocol %q path %q", h.GetProtocol(), h.GetPath())
	}
}

// TestFailureModeAllow pins fail-open: the request reaches the upstream with
// x-envoy-auth-failure-mode-allowed: true appended to any copy the client sent.
func TestFailureModeAllow(t *testing.T) {
	authz := startAuthz(t, "tcp", "", scenarios{}.check)
	up := startUpstream(t)
	env := envoytest.Start(t, envoytest.Config{
		AuthzTarget: authz.addr, Upstream: up.HostPort(),
		ExtAuthz: envoytest.ExtAuthz{FailureModeAllow: true, FailureModeAllowHeaderAdd: true},
	})
	const hdr = "x-envoy-auth-failure-mode-allowed"
	r := do(t, "GET", env.URL()+"/", "", hdr, "spoofed")
	if got := r.Echo(t).Headers[hdr]; !reflect.DeepEqual(got, []string{"spoofed"}) {
		t.Errorf("check ok: upstream saw %s %q; Envoy does not strip the client's copy", hdr, got)
	}
	authz.Stop()
	r = do(t, "GET", env.URL()+"/", "", hdr, "spoofed")
	if r.Status != 200 {
		t.Fatalf("status %d, want 200 (fail open)", r.Status)
	}
	if got := r.Echo(t).Headers[hdr]; !reflect.DeepEqual(got, []string{"spoofed", "true"}) {
		t.Errorf("fail open: upstream saw %s %q", hdr, got)
	}
	if _, err := env.WaitStat(t.Context(), "http.ingress.ext_authz.failure_mode_allowed", 1); err != nil {
		t.Error(err)
	}
}

func sameElements(a, b [][2]string) bool {
	if len(a) != len(b) {
		return false
	}
	count := map[[2]string]int{}
	for _, x := range a {
		count[x]++
	}
	for _, x := range b {
		count[x]--
	}
	for _, n := range count {
		if n != 0 {
			return false
		}
	}
	return true
}
