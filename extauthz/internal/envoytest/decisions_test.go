package envoytest_test

import (
	"reflect"
	"strings"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/gatehouse/gatehouse/extauthz/internal/envoytest"
)

// TestDecisions pins how Envoy 1.40 turns a CheckResponse (or a failed call)
// into the downstream answer, with status_on_error 503, a 300 ms timeout and
// max_denied_response_body_bytes 16.
func TestDecisions(t *testing.T) {
	meta, err := structpb.NewStruct(map[string]any{"decision_id": "d1"})
	if err != nil {
		t.Fatal(err)
	}
	withMeta := func(r *authv3.CheckResponse) *authv3.CheckResponse { r.DynamicMetadata = meta; return r }

	cases := []struct {
		name     string
		sc       scenario
		status   int
		body     string
		headers  map[string][]string // response headers the client must see
		upstream bool                // whether the upstream is reached
		details  string              // %RESPONSE_CODE_DETAILS%
		meta     map[string]any      // ext_authz dynamic metadata in the access log
	}{{
		name: "empty CheckResponse allows", sc: scenario{resp: &authv3.CheckResponse{}},
		status: 200, upstream: true, details: "via_upstream",
	}, {
		name: "OK status wins over denied_response", sc: scenario{resp: &authv3.CheckResponse{
			HttpResponse: &authv3.CheckResponse_DeniedResponse{DeniedResponse: &authv3.DeniedHttpResponse{Body: "x"}},
		}},
		status: 200, upstream: true, details: "via_upstream",
	}, {
		name: "non-OK status wins over ok_response", sc: scenario{resp: &authv3.CheckResponse{
			Status:       deny(codes.PermissionDenied, nil).Status,
			HttpResponse: allow(&authv3.OkHttpResponse{}).HttpResponse,
		}},
		status: 403, details: "ext_authz_denied",
	}, {
		name:   "deny without http_response is an empty 403",
		sc:     scenario{resp: deny(codes.Unauthenticated, nil)},
		status: 403, details: "ext_authz_denied",
	}, {
		name:   "denied body defaults to 403 text/plain",
		sc:     scenario{resp: deny(codes.PermissionDenied, &authv3.DeniedHttpResponse{Body: "nope"})},
		status: 403, body: "nope", headers: map[string][]string{"content-type": {"text/plain"}},
		details: "ext_authz_denied",
	}, {
		name: "denied status, headers and truncated body",
		sc: scenario{resp: deny(codes.Unauthenticated, &authv3.DeniedHttpResponse{
			Status: httpStatus(401),
			Body:   `{"error":"token expired, log in again"}`,
			Headers: headers(
				header("www-authenticate", `Bearer error="invalid_token"`),
				header("content-type", "application/json"),
				header("set-cookie", "a=1"), header("set-cookie", "b=2"), // both sent
				header("x-kept", "1"), appendHeader("x-kept", "2", true), // the appended value is dropped
				appendHeader("x-dropped", "1", true), // append:true on a new header: dropped
			),
		})},
		status: 401, body: `{"error":"token `,
		headers: map[string][]string{
			"www-authenticate": {`Bearer error="invalid_token"`},
			"content-type":     {"application/json"},
			"set-cookie":       {"a=1", "b=2"},
			"x-kept":           {"1"},
			"x-dropped":        nil,
		},
		details: "ext_authz_denied",
	}, {
		name:   "denied with status 200 never reaches the upstream",
		sc:     scenario{resp: deny(codes.PermissionDenied, &authv3.DeniedHttpResponse{Status: httpStatus(200), Body: "fake"})},
		status: 200, body: "fake", details: "ext_authz_denied",
	}, {
		name: "error_response uses status_on_error",
		sc: scenario{resp: errorResponse(codes.Internal, &authv3.DeniedHttpResponse{
			Body: "try later", Headers: headers(header("retry-after", "1")),
		})},
		status: 503, body: "try later", headers: map[string][]string{"retry-after": {"1"}},
		details: "ext_authz_error",
	}, {
		name:   "error_response with its own status",
		sc:     scenario{resp: errorResponse(codes.Internal, &authv3.DeniedHttpResponse{Status: httpStatus(500)})},
		status: 500, details: "ext_authz_error",
	}, {
		name:   "error_response with OK status allows",
		sc:     scenario{resp: errorResponse(codes.OK, &authv3.DeniedHttpResponse{Body: "x"})},
		status: 200, upstream: true, details: "via_upstream",
	}, {
		name:   "RPC error PERMISSION_DENIED is an error, not a deny",
		sc:     scenario{err: status.Error(codes.PermissionDenied, "no")},
		status: 503, details: "ext_authz_error",
	}, {
		name:   "RPC error INTERNAL",
		sc:     scenario{err: status.Error(codes.Internal, "boom")},
		status: 503, details: "ext_authz_error",
	}, {
		name:   "timeout",
		sc:     scenario{delay: time.Second, resp: allow(nil)},
		status: 503, details: "ext_authz_error",
	}, {
		name:   "metadata on allow gains ext_authz_duration",
		sc:     scenario{resp: withMeta(allow(nil))},
		status: 200, upstream: true, details: "via_upstream",
		meta: map[string]any{"decision_id": "d1", "ext_authz_duration": nil},
	}, {
		name:   "metadata on deny",
		sc:     scenario{resp: withMeta(deny(codes.PermissionDenied, nil))},
		status: 403, details: "ext_authz_denied",
		meta: map[string]any{"decision_id": "d1"},
	}, {
		name:   "metadata on error_response",
		sc:     scenario{resp: withMeta(errorResponse(codes.Internal, &authv3.DeniedHttpResponse{}))},
		status: 503, details: "ext_authz_error",
		meta: map[string]any{"decision_id": "d1"},
	}}

	sc := scenarios{}
	for _, c := range cases {
		sc[c.name] = c.sc
	}
	authz := startAuthz(t, "tcp", "", sc.check)
	up := startUpstream(t)
	env := envoytest.Start(t, envoytest.Config{
		AuthzTarget: authz.addr, Upstream: up.HostPort(),
		ExtAuthz: envoytest.ExtAuthz{Timeout: 300 * time.Millisecond, MaxDeniedResponseBodyBytes: 16},
	})

	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			hits := up.Hits()
			r := do(t, "GET", env.URL()+"/", "", caseHeader, c.name)
			if r.Status != c.status {
				t.Errorf("status %d, want %d (%s)", r.Status, c.status, r.Body)
			}
			if reached := up.Hits() > hits; reached != c.upstream {
				t.Errorf("upstream reached: %v, want %v", reached, c.upstream)
			} else if !c.upstream && r.Body != c.body {
				t.Errorf("body %q, want %q", r.Body, c.body)
			}
			for k, want := range c.headers {
				if got := r.Headers.Values(k); !reflect.DeepEqual(got, want) {
					t.Errorf("header %s = %q, want %q", k, got, want)
				}
			}
			entries, err := env.WaitAccessLog(t.Context(), i+1)
			if err != nil {
				t.Fatal(err)
			}
			entry := entries[i]
			if entry.Details != c.details {
				t.Errorf("details %q, want %q", entry.Details, c.details)
			}
			if !sameKeys(entry.ExtAuthz, c.meta) {
				t.Errorf("dynamic metadata %v, want the keys of %v", entry.ExtAuthz, c.meta)
			}
			if c.meta["decision_id"] != nil && entry.ExtAuthz["decision_id"] != c.meta["decision_id"] {
				t.Errorf("decision_id %v", entry.ExtAuthz["decision_id"])
			}
		})
	}

	stats, err := env.Stats(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]uint64{}
	for _, c := range cases {
		count[strings.TrimPrefix(c.details, "ext_authz_")]++
	}
	for stat, want := range map[string]uint64{"ok": count["via_upstream"], "denied": count["denied"], "error": count["error"]} {
		if got := stats["http.ingress.ext_authz."+stat]; got != want {
			t.Errorf("http.ingress.ext_authz.%s = %d, want %d", stat, got, want)
		}
	}
}

func sameKeys(a, b map[string]any) bool {
	if len(a) != len(b) {
		return false
	}
	for k := range a {
		if _, ok := b[k]; !ok {
			return false
		}
	}
	return true
}
