package envoytest_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
)

// checkFunc decides one Check call of the test authorization server.
type checkFunc func(ctx context.Context, req *authv3.CheckRequest) (*authv3.CheckResponse, error)

// authzServer is a minimal ext_authz gRPC server for tests. It records every
// CheckRequest it receives.
type authzServer struct {
	authv3.UnimplementedAuthorizationServer
	check checkFunc
	srv   *grpc.Server
	addr  string
	done  chan struct{}

	mu       sync.Mutex
	requests []*authv3.CheckRequest
}

// startAuthz serves check on network ("tcp" on 127.0.0.1, or "unix" at
// address) until the test ends or Stop is called.
func startAuthz(t *testing.T, network, address string, check checkFunc) *authzServer {
	t.Helper()
	if network == "tcp" {
		address = "127.0.0.1:0"
	}
	l, err := net.Listen(network, address)
	if err != nil {
		t.Fatal(err)
	}
	s := &authzServer{check: check, srv: grpc.NewServer(), addr: l.Addr().String(), done: make(chan struct{})}
	authv3.RegisterAuthorizationServer(s.srv, s)
	go func() {
		defer close(s.done)
		_ = s.srv.Serve(l)
	}()
	t.Cleanup(s.Stop)
	return s
}

func (s *authzServer) Check(ctx context.Context, req *authv3.CheckRequest) (*authv3.CheckResponse, error) {
	s.mu.Lock()
	s.requests = append(s.requests, proto.Clone(req).(*authv3.CheckRequest))
	s.mu.Unlock()
	return s.check(ctx, req)
}

// Stop stops the server, closing Envoy's connections, and waits for it.
func (s *authzServer) Stop() {
	s.srv.Stop()
	<-s.done
}

// Requests returns the CheckRequests received so far.
func (s *authzServer) Requests() []*authv3.CheckRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*authv3.CheckRequest(nil), s.requests...)
}

// Last returns the most recent CheckRequest, failing the test if none came.
func (s *authzServer) Last(t *testing.T) *authv3.CheckRequest {
	t.Helper()
	reqs := s.Requests()
	if len(reqs) == 0 {
		t.Fatal("the authorization server received no CheckRequest")
	}
	return reqs[len(reqs)-1]
}

// echoed is what the echo upstream answers: the request it received.
type echoed struct {
	Method  string              `json:"method"`
	URI     string              `json:"uri"`
	Headers map[string][]string `json:"headers"`
	Body    string              `json:"body"`
}

// upstream is an httptest server that echoes each request as JSON.
type upstream struct {
	*httptest.Server
	mu   sync.Mutex
	hits int
}

func startUpstream(t *testing.T) *upstream {
	t.Helper()
	u := &upstream{}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.mu.Lock()
		u.hits++
		u.mu.Unlock()
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		hdr := map[string][]string{}
		for k, v := range r.Header {
			hdr[strings.ToLower(k)] = v
		}
		hdr["host"] = []string{r.Host}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Upstream", "echo")
		_ = json.NewEncoder(w).Encode(echoed{Method: r.Method, URI: r.RequestURI, Headers: hdr, Body: string(body)})
	}))
	t.Cleanup(u.Close)
	return u
}

// Hits counts the requests the upstream received.
func (u *upstream) Hits() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.hits
}

// HostPort is the upstream's "127.0.0.1:port".
func (u *upstream) HostPort() string { return strings.TrimPrefix(u.URL, "http://") }

// response is a downstream response with its body read.
type response struct {
	Status  int
	Headers http.Header
	Body    string
}

// Echo decodes the body as the echo upstream's answer.
func (r response) Echo(t *testing.T) echoed {
	t.Helper()
	var e echoed
	if err := json.Unmarshal([]byte(r.Body), &e); err != nil {
		t.Fatalf("response is not an upstream echo (status %d): %v\n%s", r.Status, err, r.Body)
	}
	return e
}

var client = &http.Client{Timeout: 10 * time.Second}

// do sends one request through Envoy. headers are set in order; a repeated
// key adds a second value.
func do(t *testing.T, method, url, body string, headers ...string) response {
	t.Helper()
	if len(headers)%2 != 0 {
		t.Fatal("do: headers must be key/value pairs")
	}
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < len(headers); i += 2 {
		if strings.EqualFold(headers[i], "host") {
			req.Host = headers[i+1]
			continue
		}
		req.Header.Add(headers[i], headers[i+1])
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil && !errors.Is(err, io.EOF) {
		t.Fatal(err)
	}
	return response{Status: resp.StatusCode, Headers: resp.Header, Body: string(b)}
}
