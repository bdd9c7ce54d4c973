package envoytest_test

import (
	"net/http"
	"reflect"
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"

	"github.com/gatehouse/gatehouse/extauthz/internal/envoytest"
)

// TestOkResponseMutations pins how Envoy 1.40 applies an OkHttpResponse to
// the request it forwards and to the response it returns. Each case sends
//
//	GET /p?a=1&b=2&A=3&b=4   x-id: client, x-other: o, authorization: Bearer t
//
// and inspects what the echo upstream saw and what the client got.
func TestOkResponseMutations(t *testing.T) {
	ok := func(o *authv3.OkHttpResponse) scenario { return scenario{resp: allow(o)} }
	cases := []struct {
		name     string
		sc       scenario
		upstream map[string][]string // request headers the upstream must see (nil slice: absent)
		uri      string              // request URI the upstream must see, if set
		client   map[string][]string // response headers the client must see
	}{{
		name:     "append unset overwrites",
		sc:       ok(&authv3.OkHttpResponse{Headers: headers(header("x-id", "server"))}),
		upstream: map[string][]string{"x-id": {"server"}},
	}, {
		name:     "append false overwrites",
		sc:       ok(&authv3.OkHttpResponse{Headers: headers(appendHeader("x-id", "server", false))}),
		upstream: map[string][]string{"x-id": {"server"}},
	}, {
		name:     "append true joins into one value",
		sc:       ok(&authv3.OkHttpResponse{Headers: headers(appendHeader("x-id", "server", true))}),
		upstream: map[string][]string{"x-id": {"client,server"}},
	}, {
		name: "append_action is ignored for request headers",
		sc: ok(&authv3.OkHttpResponse{Headers: headers(
			actionHeader("x-id", "server", corev3.HeaderValueOption_ADD_IF_ABSENT),
			actionHeader("x-new", "n", corev3.HeaderValueOption_OVERWRITE_IF_EXISTS),
		)}),
		upstream: map[string][]string{"x-id": {"server"}, "x-new": {"n"}},
	}, {
		name:     "repeated overwrite: last wins",
		sc:       ok(&authv3.OkHttpResponse{Headers: headers(header("x-id", "s1"), header("x-id", "s2"))}),
		upstream: map[string][]string{"x-id": {"s2"}},
	}, {
		name:     "empty value is forwarded",
		sc:       ok(&authv3.OkHttpResponse{Headers: headers(header("x-id", ""))}),
		upstream: map[string][]string{"x-id": {""}},
	}, {
		name: "headers_to_remove is case-insensitive and ignores pseudo-headers and host",
		sc: ok(&authv3.OkHttpResponse{HeadersToRemove: []string{
			"x-id", "X-Other", "authorization", ":authority", "host", ":path",
		}}),
		upstream: map[string][]string{"x-id": nil, "x-other": nil, "authorization": nil, "host": {"example.test"}},
		uri:      "/p?a=1&b=2&A=3&b=4",
	}, {
		name: "removal runs after setting",
		sc: ok(&authv3.OkHttpResponse{
			Headers:         headers(header("x-id", "server")),
			HeadersToRemove: []string{"x-id"},
		}),
		upstream: map[string][]string{"x-id": nil},
	}, {
		name:     "path and host can be rewritten",
		sc:       ok(&authv3.OkHttpResponse{Headers: headers(header(":path", "/rewritten"), header("host", "other.test"))}),
		upstream: map[string][]string{"host": {"other.test"}},
		uri:      "/rewritten",
	}, {
		name: "query parameters: set replaces, remove is case-sensitive and drops repeats, keys are re-sorted",
		sc: ok(&authv3.OkHttpResponse{
			QueryParametersToSet:    []*corev3.QueryParameter{{Key: "a", Value: "set"}, {Key: "new", Value: "x%20y"}},
			QueryParametersToRemove: []string{"b"},
		}),
		uri: "/p?A=3&a=set&new=x%20y",
	}, {
		name: "response_headers_to_add: append unset appends, false overwrites",
		sc: ok(&authv3.OkHttpResponse{ResponseHeadersToAdd: headers(
			header("x-upstream", "authz"),
			appendHeader("content-type", "text/x-authz", false),
			header("x-resp", "r1"),
		)}),
		client: map[string][]string{
			"x-upstream":   {"echo", "authz"},
			"content-type": {"text/x-authz"},
			"x-resp":       {"r1"},
		},
	}, {
		name: "response_headers_to_add honours append_action",
		sc: ok(&authv3.OkHttpResponse{ResponseHeadersToAdd: headers(
			actionHeader("x-upstream", "authz", corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD),
			actionHeader("content-type", "text/x-authz", corev3.HeaderValueOption_ADD_IF_ABSENT),
		)}),
		client: map[string][]string{"x-upstream": {"authz"}, "content-type": {"application/json"}},
	}}

	sc := scenarios{}
	for _, c := range cases {
		sc[c.name] = c.sc
	}
	authz := startAuthz(t, "tcp", "", sc.check)
	up := startUpstream(t)
	env := envoytest.Start(t, envoytest.Config{AuthzTarget: authz.addr, Upstream: up.HostPort()})

	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := do(t, "GET", env.URL()+"/p?a=1&b=2&A=3&b=4", "",
				caseHeader, c.name, "host", "example.test",
				"x-id", "client", "x-other", "o", "authorization", "Bearer t")
			if r.Status != 200 {
				t.Fatalf("status %d: %s", r.Status, r.Body)
			}
			e := r.Echo(t)
			for k, want := range c.upstream {
				if got := e.Headers[k]; !reflect.DeepEqual(got, want) {
					t.Errorf("upstream header %s = %q, want %q", k, got, want)
				}
			}
			if c.uri != "" && e.URI != c.uri {
				t.Errorf("upstream URI %q, want %q", e.URI, c.uri)
			}
			for k, want := range c.client {
				if got := r.Headers.Values(k); !reflect.DeepEqual(got, want) {
					t.Errorf("client header %s = %q, want %q", k, got, want)
				}
			}
		})
	}
}

// TestInvalidMutations pins what happens when the server sends a header
// Envoy cannot forward: without validate_mutations the request fails later
// with 503 (the check still counts as ok); with it, Envoy answers 500 and
// counts the check as invalid. A raw space in a query parameter value is not
// encoded by Envoy, so without validation the HTTP/1.1 upstream rejects the
// request line with 400.
func TestInvalidMutations(t *testing.T) {
	sc := scenarios{
		"bad value": {resp: allow(&authv3.OkHttpResponse{Headers: headers(header("x-bad", "a\nb"))})},
		"bad name":  {resp: allow(&authv3.OkHttpResponse{Headers: headers(header("x bad", "a"))})},
		"raw query": {resp: allow(&authv3.OkHttpResponse{QueryParametersToSet: []*corev3.QueryParameter{{Key: "q", Value: "x y"}}})},
	}
	for _, validate := range []bool{false, true} {
		authz := startAuthz(t, "tcp", "", sc.check)
		up := startUpstream(t)
		env := envoytest.Start(t, envoytest.Config{
			AuthzTarget: authz.addr, Upstream: up.HostPort(),
			ExtAuthz: envoytest.ExtAuthz{ValidateMutations: validate},
		})
		want := map[string]int{"bad value": 503, "bad name": 503, "raw query": http.StatusBadRequest}
		if validate {
			want = map[string]int{"bad value": 500, "bad name": 500, "raw query": 500}
		}
		for name, status := range want {
			r := do(t, "GET", env.URL()+"/", "", caseHeader, name)
			if r.Status != status {
				t.Errorf("validate_mutations=%v, %s: status %d, want %d (%s)", validate, name, r.Status, status, r.Body)
			}
		}
		if up.Hits() != 0 { // the raw query is rejected before the echo handler runs
			t.Errorf("validate_mutations=%v: upstream handler ran %d times", validate, up.Hits())
		}
		stat := "http.ingress.ext_authz.ok"
		if validate {
			stat = "http.ingress.ext_authz.invalid"
		}
		if _, err := env.WaitStat(t.Context(), stat, 3); err != nil {
			t.Errorf("validate_mutations=%v: %v", validate, err)
		}
	}
}
