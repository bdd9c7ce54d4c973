package envoytest_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/gatehouse/gatehouse/extauthz/internal/envoytest"
)

const deniedBody = "denied by the test server\n"

// allowHeader is the test policy: allow when x-allow is "yes", else deny with
// 403, a body and a header. Every answer carries a decision id in the dynamic
// metadata.
func allowHeader() checkFunc {
	var n atomic.Int64
	return func(_ context.Context, req *authv3.CheckRequest) (*authv3.CheckResponse, error) {
		meta, err := structpb.NewStruct(map[string]any{"decision_id": fmt.Sprintf("d-%d", n.Add(1))})
		if err != nil {
			return nil, err
		}
		if req.GetAttributes().GetRequest().GetHttp().GetHeaders()["x-allow"] == "yes" {
			return &authv3.CheckResponse{
				Status:          status.New(codes.OK, "").Proto(),
				DynamicMetadata: meta,
				HttpResponse: &authv3.CheckResponse_OkResponse{OkResponse: &authv3.OkHttpResponse{
					Headers: []*corev3.HeaderValueOption{header("x-authz-added", "yes")},
				}},
			}, nil
		}
		return &authv3.CheckResponse{
			Status:          status.New(codes.PermissionDenied, "").Proto(),
			DynamicMetadata: meta,
			HttpResponse: &authv3.CheckResponse_DeniedResponse{DeniedResponse: &authv3.DeniedHttpResponse{
				Status:  &typev3.HttpStatus{Code: typev3.StatusCode_Forbidden},
				Headers: []*corev3.HeaderValueOption{header("x-deny-reason", "no x-allow")},
				Body:    deniedBody,
			}},
		}, nil
	}
}

func header(k, v string) *corev3.HeaderValueOption {
	return &corev3.HeaderValueOption{Header: &corev3.HeaderValue{Key: k, Value: v}}
}

// TestHarness proves the harness and the basic protocol against real Envoy:
// allow reaches the upstream with the added header, deny returns the server's
// 403, and an unreachable server yields status_on_error without reaching the
// upstream.
func TestHarness(t *testing.T) {
	ctx := context.Background()
	authz := startAuthz(t, "tcp", "", allowHeader())
	up := startUpstream(t)
	env := envoytest.Start(t, envoytest.Config{AuthzTarget: authz.addr, Upstream: up.HostPort()})

	t.Run("allow", func(t *testing.T) {
		r := do(t, "GET", env.URL()+"/hello?x=1", "", "x-allow", "yes")
		if r.Status != 200 {
			t.Fatalf("status %d, want 200: %s", r.Status, r.Body)
		}
		e := r.Echo(t)
		if got := e.Headers["x-authz-added"]; len(got) != 1 || got[0] != "yes" {
			t.Errorf("upstream saw x-authz-added %q, want [yes]", got)
		}
		if e.URI != "/hello?x=1" {
			t.Errorf("upstream saw %q", e.URI)
		}
		if got := authz.Last(t).GetAttributes().GetRequest().GetHttp().GetPath(); got != "/hello?x=1" {
			t.Errorf("CheckRequest path %q, want the path with its query", got)
		}
	})

	t.Run("deny", func(t *testing.T) {
		hits := up.Hits()
		r := do(t, "GET", env.URL()+"/hello", "")
		if r.Status != 403 || r.Body != deniedBody {
			t.Errorf("got %d %q, want 403 %q", r.Status, r.Body, deniedBody)
		}
		if got := r.Headers.Get("x-deny-reason"); got != "no x-allow" {
			t.Errorf("x-deny-reason %q", got)
		}
		if up.Hits() != hits {
			t.Error("a denied request reached the upstream")
		}
	})

	t.Run("access log and stats", func(t *testing.T) {
		entries, err := env.WaitAccessLog(ctx, 2)
		if err != nil {
			t.Fatal(err)
		}
		if e := entries[0]; e.Status != 200 || e.Path != "/hello?x=1" || e.ExtAuthz["decision_id"] != "d-1" {
			t.Errorf("first entry %+v", e)
		}
		if e := entries[1]; e.Status != 403 || e.Details != "ext_authz_denied" || e.Flags != "UAEX" || e.ExtAuthz["decision_id"] != "d-2" {
			t.Errorf("second entry %+v", e)
		}
		stats, err := env.Stats(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for name, want := range map[string]uint64{
			"http.ingress.ext_authz.ok":         1,
			"http.ingress.ext_authz.denied":     1,
			"http.ingress.ext_authz.error":      0,
			"cluster.upstream.ext_authz.ok":     1, // the route's cluster, not the authz cluster
			"cluster.upstream.ext_authz.denied": 1,
			"cluster.upstream.upstream_rq_200":  1,
		} {
			if got, ok := stats[name]; !ok || got != want {
				t.Errorf("stat %s = %d (present %v), want %d", name, got, ok, want)
			}
		}
	})

	t.Run("authz down", func(t *testing.T) {
		authz.Stop()
		hits := up.Hits()
		r := do(t, "GET", env.URL()+"/hello", "", "x-allow", "yes")
		if r.Status != 503 {
			t.Errorf("status %d, want 503 (status_on_error): %s", r.Status, r.Body)
		}
		if up.Hits() != hits {
			t.Error("the upstream was reached although the check failed")
		}
		if _, err := env.WaitStat(ctx, "http.ingress.ext_authz.error", 1); err != nil {
			t.Error(err)
		}
	})
}

// TestUnixSocketTarget checks that the ext_authz cluster can point at a Unix
// socket, and that an empty Upstream answers allowed requests directly.
func TestUnixSocketTarget(t *testing.T) {
	dir, err := os.MkdirTemp("", "envoytest")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock := filepath.Join(dir, "authz.sock")
	authz := startAuthz(t, "unix", sock, allowHeader())
	env := envoytest.Start(t, envoytest.Config{AuthzTarget: sock})

	if r := do(t, "GET", env.URL()+"/", "", "x-allow", "yes"); r.Status != 200 || r.Body != envoytest.NoUpstreamBody {
		t.Errorf("allow: got %d %q", r.Status, r.Body)
	}
	if r := do(t, "GET", env.URL()+"/", ""); r.Status != 403 {
		t.Errorf("deny: got %d %q", r.Status, r.Body)
	}
	if n := len(authz.Requests()); n != 2 {
		t.Errorf("%d checks, want 2", n)
	}
}
