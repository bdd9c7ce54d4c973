package envoy_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/envoy/internal/demotest"
)

// stack is the envoy/local demo stack started by its own script, as a user starts it.
type stack struct {
	cmd                            *exec.Cmd
	state                          string
	envoyPort, adminPort, grpcPort int
	appPort, httpPort              int
	gatehouse                      string // the binary the script built
	exited                         chan error
	done                           bool
	output                         *lockedBuffer
}

// startStack runs envoy/local/run on free ports and waits for its "demo ready" line.
func startStack(t *testing.T) *stack {
	t.Helper()
	demotest.Envoy(t)
	demotest.Venv(t)
	s := &stack{
		state:     t.TempDir(),
		envoyPort: demotest.FreePort(t), adminPort: demotest.FreePort(t),
		grpcPort: demotest.FreePort(t), httpPort: demotest.FreePort(t), appPort: demotest.FreePort(t),
		exited: make(chan error, 1), output: &lockedBuffer{},
	}
	s.gatehouse = filepath.Join(s.state, "gatehouse")
	s.cmd = exec.Command(demotest.Path(t, "envoy/local/run"))
	s.cmd.Env = append(os.Environ(),
		"DEMO_STATE_DIR="+s.state,
		"DEMO_ENVOY_PORT="+strconv.Itoa(s.envoyPort), "DEMO_ADMIN_PORT="+strconv.Itoa(s.adminPort),
		"DEMO_GRPC_PORT="+strconv.Itoa(s.grpcPort), "DEMO_HTTP_PORT="+strconv.Itoa(s.httpPort),
		"DEMO_APP_PORT="+strconv.Itoa(s.appPort))
	// Its own process group, as in a terminal, so Ctrl-C can be sent to all of it.
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	// A test binary started in the background by a shell without job control inherits an
	// ignored SIGINT, and so would the script, which could then not trap Ctrl-C. Handling
	// SIGINT here makes the child start with the default disposition.
	if signal.Ignored(os.Interrupt) {
		signal.Notify(make(chan os.Signal, 1), os.Interrupt)
	}
	stdout, err := s.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	s.cmd.Stderr = s.output
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		signalled := false
		for sc.Scan() {
			fmt.Fprintln(s.output, sc.Text())
			if !signalled && strings.HasPrefix(sc.Text(), "demo ready") {
				signalled = true
				close(ready)
			}
		}
		s.exited <- s.cmd.Wait()
	}()
	t.Cleanup(func() { s.stop(t, syscall.SIGKILL) })
	select {
	case <-ready:
	case err := <-s.exited:
		s.done = true
		t.Fatalf("envoy/local/run exited before it was ready (%v):\n%s", err, s.output)
	case <-time.After(5 * time.Minute): // it may install tools and build gatehouse first
		t.Fatalf("envoy/local/run not ready after 5 minutes:\n%s", s.output)
	}
	return s
}

// stop sends sig to the stack's process group and waits (bounded) for the script to end.
// It reports whether the script ended, and how.
func (s *stack) stop(t *testing.T, sig syscall.Signal) (stopped bool, err error) {
	t.Helper()
	if s.done {
		return true, nil
	}
	_ = syscall.Kill(-s.cmd.Process.Pid, sig)
	select {
	case err := <-s.exited:
		s.done = true
		return true, err
	case <-time.After(30 * time.Second):
		_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		return false, nil
	}
}

// lockedBuffer collects the script's output from two goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (s *stack) pid(t *testing.T, name string) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(s.state, name+".pid"))
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	return pid
}

// reply is one HTTP exchange through Envoy.
type reply struct {
	status  int
	headers http.Header
	body    []byte
}

// send writes one HTTP/1.1 request byte for byte (the path exactly as given, so path
// tricks reach Envoy unmodified) and reads the response.
func (s *stack) send(t *testing.T, method, path string, headers map[string]string, body []byte) reply {
	t.Helper()
	conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", s.envoyPort), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: docs.example.com\r\nConnection: close\r\n", method, path)
	for k, v := range headers {
		fmt.Fprintf(&b, "%s: %s\r\n", k, v)
	}
	if body != nil {
		fmt.Fprintf(&b, "Content-Length: %d\r\n", len(body))
	}
	b.WriteString("\r\n")
	b.Write(body)
	if _, err := conn.Write(b.Bytes()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), &http.Request{Method: method})
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the body: %v", method, path, err)
	}
	return reply{status: resp.StatusCode, headers: resp.Header, body: data}
}

// envoyStats returns Envoy's counters whose names start with prefix.
func (s *stack) envoyStats(t *testing.T, prefix string) map[string]int {
	t.Helper()
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/stats?format=json", s.adminPort))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var doc struct {
		Stats []struct {
			Name  string `json:"name"`
			Value *int   `json:"value"`
		} `json:"stats"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, st := range doc.Stats {
		if st.Value != nil && strings.HasPrefix(st.Name, prefix) {
			out[st.Name] = *st.Value
		}
	}
	return out
}

// appRequest is one line of the Flask app's request log.
type appRequest struct {
	Method  string            `json:"method"`
	Path    string            `json:"path"`
	Headers map[string]string `json:"headers"`
	Status  int               `json:"status"`
}

// appLog returns the Flask app's request log by test request id (header x-e2e-id).
func (s *stack) appLog(t *testing.T) map[string][]appRequest {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(s.state, "app-requests.log"))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	out := map[string][]appRequest{}
	for i, line := range bytes.Split(bytes.TrimSpace(data), []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		var r appRequest
		if err := json.Unmarshal(line, &r); err != nil {
			t.Fatalf("app request log line %d: %v: %s", i+1, err, line)
		}
		out[r.Headers[idHeader]] = append(out[r.Headers[idHeader]], r)
	}
	return out
}

const idHeader = "x-e2e-id"

// outcome says what ext_authz does with a request: not called, allow, or deny.
type outcome int

const (
	notCalled outcome = iota
	allowed
	denied
)

// e2eCase is one request of the matrix.
type e2eCase struct {
	name    string
	method  string
	path    string
	token   string            // a file under envoy/demo/tokens, or a literal "Bearer ..." value
	headers map[string]string // extra request headers
	body    string
	bodyLen int // a generated body of this many bytes instead of body

	status int
	authz  outcome
	// what the app must see (only when the request reaches it)
	principal string // x-gatehouse-principal; "" means the header must be absent
	roles     string
	email     string
	appPath   string // the path the app received, when it differs from path
	reason    string // deny reason in gatehouse's JSON body
}

func TestLocalStack(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the whole demo stack")
	}
	s := startStack(t)
	tokens := demoTokens(t, s)

	cases := matrix()
	if len(cases) < 40 {
		t.Fatalf("the matrix has %d requests; the demo promises at least 40", len(cases))
	}
	before := s.envoyStats(t, "http.ingress.ext_authz.")
	want := map[string]int{}
	for i, c := range cases {
		id := strconv.Itoa(i + 1)
		t.Run(c.name, func(t *testing.T) {
			h := map[string]string{idHeader: id}
			for k, v := range c.headers {
				h[k] = v
			}
			if c.token != "" {
				h["authorization"] = tokens.value(t, c.token)
			}
			var body []byte
			switch {
			case c.bodyLen > 0:
				body = []byte(`{"title": "` + strings.Repeat("x", c.bodyLen) + `"}`)
				h["content-type"] = "application/json"
			case c.body != "":
				body = []byte(c.body)
				h["content-type"] = "application/json"
			}
			r := s.send(t, c.method, c.path, h, body)
			if r.status != c.status {
				t.Fatalf("status %d, want %d; body %s", r.status, c.status, r.body)
			}
			if c.authz == denied {
				checkDenyBody(t, r, c)
			}
		})
		switch c.authz {
		case allowed:
			want["ok"]++
		case denied:
			want["denied"]++
		}
	}

	// What the app saw: every allowed request once, with gatehouse's identity headers
	// and never a client's; nothing that was denied or stopped by Envoy.
	seen := s.appLog(t)
	for i, c := range cases {
		got := seen[strconv.Itoa(i+1)]
		reached := c.authz == allowed || (c.authz == notCalled && c.status < 300)
		if !reached {
			if len(got) != 0 {
				t.Errorf("%s: the app was reached (%+v) though the request was stopped with %d", c.name, got, c.status)
			}
			continue
		}
		if len(got) != 1 {
			t.Errorf("%s: the app saw the request %d times, want once", c.name, len(got))
			continue
		}
		checkAppSaw(t, c, got[0])
	}

	// Envoy's own counters agree: the allows, the denies and no errors.
	after := s.envoyStats(t, "http.ingress.ext_authz.")
	for _, stat := range []string{"ok", "denied", "error", "failure_mode_allowed"} {
		name := "http.ingress.ext_authz." + stat
		if got := after[name] - before[name]; got != want[stat] {
			t.Errorf("%s went up by %d, want %d", name, got, want[stat])
		}
	}

	// With gatehouse gone, Envoy fails closed: 503, and the app is not reached.
	if err := syscall.Kill(s.pid(t, "gatehouse"), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waitClosed(t, s.grpcPort)
	errorsBefore := s.envoyStats(t, "http.ingress.ext_authz.")["http.ingress.ext_authz.error"]
	for i, path := range []string{"/api/documents/7", "/api/documents", "/api/admin/users"} {
		id := "down-" + strconv.Itoa(i)
		r := s.send(t, "GET", path, map[string]string{idHeader: id, "authorization": tokens.value(t, "carol.jwt")}, nil)
		if r.status != http.StatusServiceUnavailable {
			t.Errorf("gatehouse stopped: GET %s got %d, want 503 (%s)", path, r.status, r.body)
		}
		if got := s.appLog(t)[id]; len(got) != 0 {
			t.Errorf("gatehouse stopped: GET %s reached the app", path)
		}
	}
	if got := s.envoyStats(t, "http.ingress.ext_authz.")["http.ingress.ext_authz.error"] - errorsBefore; got != 3 {
		t.Errorf("gatehouse stopped: ext_authz.error went up by %d, want 3", got)
	}
	// The health probes do not depend on gatehouse.
	if r := s.send(t, "GET", "/healthz", nil, nil); r.status != http.StatusOK {
		t.Errorf("gatehouse stopped: /healthz got %d, want 200", r.status)
	}

	// Ctrl-C stops everything cleanly: the script exits 0 and every port is closed.
	ok, err := s.stop(t, syscall.SIGINT)
	if !ok {
		t.Fatalf("the stack did not stop within 30s of Ctrl-C:\n%s", s.output)
	}
	if err != nil {
		t.Errorf("after Ctrl-C the script exited with %v:\n%s", err, s.output)
	}
	for _, port := range []int{s.envoyPort, s.adminPort, s.appPort, s.httpPort} {
		waitClosed(t, port)
	}
}

// matrix is the end-to-end request table. Row order matters where a row changes the
// app's data (the deletes come last).
func matrix() []e2eCase {
	const (
		alice, bob, carol = "alice.jwt", "bob.jwt", "carol.jwt"
	)
	aliceSees := func(c e2eCase) e2eCase {
		c.principal, c.roles, c.email = "alice", "user", "alice@example.com"
		return c
	}
	anon := func(c e2eCase) e2eCase {
		c.principal, c.roles = "anonymous", "anonymous"
		return c
	}
	return []e2eCase{
		// Anonymous callers.
		anon(e2eCase{name: "anonymous lists published documents", method: "GET", path: "/api/documents", status: 200, authz: allowed}),
		anon(e2eCase{name: "anonymous reads a published document", method: "GET", path: "/api/documents/7", status: 200, authz: allowed}),
		anon(e2eCase{name: "anonymous HEAD of a published document", method: "HEAD", path: "/api/documents/7", status: 200, authz: allowed}),
		{name: "anonymous cannot create", method: "POST", path: "/api/documents", body: `{"title": "x"}`, status: 403, authz: denied, reason: "policy_denied"},
		{name: "anonymous cannot read a user's document", method: "GET", path: "/api/users/alice/documents/3", status: 403, authz: denied, reason: "policy_denied"},
		{name: "anonymous cannot enter the admin area", method: "GET", path: "/api/admin/users", status: 403, authz: denied, reason: "policy_denied"},
		{name: "anonymous cannot read reports", method: "GET", path: "/internal/reports/q3", status: 403, authz: denied, reason: "policy_denied"},
		{name: "an unmapped API path is denied", method: "GET", path: "/api/nothing/here", status: 403, authz: denied, reason: "no_route"},
		{name: "health probe skips ext_authz", method: "GET", path: "/healthz", status: 200, authz: notCalled},
		{name: "readiness probe skips ext_authz", method: "GET", path: "/readyz", status: 200, authz: notCalled},

		// alice (user).
		aliceSees(e2eCase{name: "alice lists her documents", method: "GET", path: "/api/users/alice/documents", token: alice, status: 200, authz: allowed}),
		aliceSees(e2eCase{name: "alice reads her document", method: "GET", path: "/api/users/alice/documents/3", token: alice, status: 200, authz: allowed}),
		aliceSees(e2eCase{name: "alice updates her document", method: "PUT", path: "/api/users/alice/documents/3", token: alice, body: `{"title": "new", "body": "text"}`, status: 200, authz: allowed}),
		aliceSees(e2eCase{name: "alice patches her document", method: "PATCH", path: "/api/users/alice/documents/3", token: alice, body: `{"body": "text"}`, status: 200, authz: allowed}),
		{name: "alice cannot read bob's document", method: "GET", path: "/api/users/bob/documents/1", token: alice, status: 403, authz: denied, reason: "policy_denied"},
		{name: "alice cannot update bob's document", method: "PUT", path: "/api/users/bob/documents/1", token: alice, body: `{"title": "mine"}`, status: 403, authz: denied, reason: "policy_denied"},
		{name: "alice cannot delete bob's document", method: "DELETE", path: "/api/users/bob/documents/1", token: alice, status: 403, authz: denied, reason: "policy_denied"},
		aliceSees(e2eCase{name: "alice creates an internal document (body read by gatehouse)", method: "POST", path: "/api/documents", token: alice, body: `{"title": "memo", "body": "text", "classification": "internal"}`, status: 201, authz: allowed}),
		{name: "alice cannot create a restricted document", method: "POST", path: "/api/documents", token: alice, body: `{"title": "secret", "classification": "restricted"}`, status: 403, authz: denied, reason: "policy_denied"},
		{name: "alice cannot create without a JSON body", method: "POST", path: "/api/documents", token: alice, status: 403, authz: denied, reason: "policy_denied"},
		{name: "alice cannot enter the admin area", method: "GET", path: "/api/admin/users", token: alice, status: 403, authz: denied, reason: "policy_denied"},
		{name: "an oversized body is refused by Envoy before any check", method: "POST", path: "/api/documents", token: alice, bodyLen: 16 << 10, status: 413, authz: notCalled},

		// bob (user) and carol (admin).
		{name: "bob reads his document", method: "GET", path: "/api/users/bob/documents/1", token: bob, status: 200, authz: allowed, principal: "bob", roles: "user", email: "bob@example.com"},
		{name: "bob cannot read alice's document", method: "GET", path: "/api/users/alice/documents/3", token: bob, status: 403, authz: denied, reason: "policy_denied"},
		{name: "carol (admin) enters the admin area", method: "GET", path: "/api/admin/users", token: carol, status: 200, authz: allowed, principal: "carol", roles: "admin,user", email: "carol@example.com"},
		{name: "carol (admin) writes in the admin area", method: "POST", path: "/api/admin/cache/flush", token: carol, body: `{}`, status: 200, authz: allowed, principal: "carol", roles: "admin,user", email: "carol@example.com"},
		{name: "carol (admin) reads alice's document", method: "GET", path: "/api/users/alice/documents/3", token: carol, status: 200, authz: allowed, principal: "carol", roles: "admin,user", email: "carol@example.com"},
		{name: "carol (admin) creates a restricted document", method: "POST", path: "/api/documents", token: carol, body: `{"title": "plan", "body": "text", "classification": "restricted"}`, status: 201, authz: allowed, principal: "carol", roles: "admin,user", email: "carol@example.com"},

		// Tokens that must not authenticate.
		{name: "expired token", method: "GET", path: "/api/documents", token: "expired.jwt", status: 401, authz: denied, reason: "invalid_token"},
		{name: "forged signature", method: "GET", path: "/api/documents", token: "forged", status: 401, authz: denied, reason: "invalid_token"},
		{name: "alg none", method: "GET", path: "/api/documents", token: "none", status: 401, authz: denied, reason: "invalid_token"},
		{name: "tampered payload (roles: admin)", method: "GET", path: "/api/admin/users", token: "tampered", status: 401, authz: denied, reason: "invalid_token"},
		{name: "wrong issuer", method: "GET", path: "/api/documents", token: "wrong-issuer", status: 401, authz: denied, reason: "invalid_token"},
		{name: "wrong audience", method: "GET", path: "/api/documents", token: "wrong-audience", status: 401, authz: denied, reason: "invalid_token"},
		{name: "not a JWT", method: "GET", path: "/api/documents", token: "Bearer not-a-token", status: 401, authz: denied, reason: "invalid_token"},

		// Client-sent identity headers never reach the app.
		anon(e2eCase{name: "spoofed principal and roles are replaced", method: "GET", path: "/api/documents/7", headers: map[string]string{"x-gatehouse-principal": "carol", "x-gatehouse-roles": "admin"}, status: 200, authz: allowed}),
		anon(e2eCase{name: "spoofed email is removed for anonymous", method: "GET", path: "/api/documents/7", headers: map[string]string{"x-gatehouse-email": "carol@example.com", "x-gatehouse-decision-id": "fake"}, status: 200, authz: allowed}),
		aliceSees(e2eCase{name: "spoofed email is replaced for alice", method: "GET", path: "/api/users/alice/documents/3", token: alice, headers: map[string]string{"x-gatehouse-email": "carol@example.com"}, status: 200, authz: allowed}),
		{name: "spoofed admin role does not open the admin area", method: "GET", path: "/api/admin/users", headers: map[string]string{"x-gatehouse-principal": "carol", "x-gatehouse-roles": "admin"}, status: 403, authz: denied, reason: "policy_denied"},

		// Path tricks.
		{name: "dot segments resolve before the check", method: "GET", path: "/api/documents/1/../../admin/users", token: alice, status: 403, authz: denied, reason: "policy_denied"},
		{name: "encoded dot segments resolve out of the API", method: "GET", path: "/api/documents/%2e%2e/%2e%2e/admin/users", token: alice, status: 404, authz: notCalled},
		{name: "encoded dot segments resolve into the admin area", method: "GET", path: "/api/documents/%2e%2e/%2e%2e/api/admin/users", token: alice, status: 403, authz: denied, reason: "policy_denied"},
		{name: "encoded slash is rejected", method: "GET", path: "/api/documents/1%2F..%2F..%2Fadmin%2Fusers", token: alice, status: 400, authz: notCalled},
		{name: "encoded backslash", method: "GET", path: "/api/documents/1%5C..%5Cadmin", token: alice, status: 400, authz: notCalled},
		{name: "double slashes merge before the check", method: "GET", path: "//api//admin//users", token: alice, status: 403, authz: denied, reason: "policy_denied"},
		{name: "double slashes: an admin lands on the merged path", method: "GET", path: "//api//admin//users", token: carol, status: 200, authz: allowed, principal: "carol", roles: "admin,user", email: "carol@example.com", appPath: "/api/admin/users"},
		{name: "trailing dot is not the admin area", method: "GET", path: "/api/admin./users", token: alice, status: 403, authz: denied, reason: "no_route"},
		{name: "routes are case-sensitive", method: "GET", path: "/API/admin/users", token: carol, status: 404, authz: notCalled},
		{name: "encoded NUL is refused by Envoy", method: "GET", path: "/api/documents/7%00", status: 400, authz: notCalled},

		// Deletes last: they change the app's data.
		aliceSees(e2eCase{name: "alice deletes her document", method: "DELETE", path: "/api/users/alice/documents/3", token: alice, status: 200, authz: allowed}),
		{name: "bob cannot delete alice's document", method: "DELETE", path: "/api/users/alice/documents/3", token: bob, status: 403, authz: denied, reason: "policy_denied"},
	}
}

// checkDenyBody checks gatehouse's JSON deny body: the status, the reason, a decision id,
// and nothing of the token.
func checkDenyBody(t *testing.T, r reply, c e2eCase) {
	t.Helper()
	var body struct {
		DecisionID string `json:"decision_id"`
		Reason     string `json:"reason"`
		Status     int    `json:"status"`
	}
	if err := json.Unmarshal(r.body, &body); err != nil {
		t.Fatalf("deny body is not gatehouse's JSON: %v: %s", err, r.body)
	}
	if body.Status != c.status || body.Reason != c.reason || len(body.DecisionID) != 32 {
		t.Errorf("deny body %+v, want status %d reason %q and a decision id", body, c.status, c.reason)
	}
	if ct := r.headers.Get("content-type"); ct != "application/json" {
		t.Errorf("deny content-type %q", ct)
	}
	if strings.Contains(string(r.body), "eyJ") {
		t.Errorf("the deny body carries a token: %s", r.body)
	}
	if c.status == http.StatusUnauthorized && !strings.HasPrefix(r.headers.Get("www-authenticate"), "Bearer") {
		t.Errorf("401 without a Bearer WWW-Authenticate: %v", r.headers)
	}
}

// checkAppSaw checks the identity headers the app received for c.
func checkAppSaw(t *testing.T, c e2eCase, got appRequest) {
	t.Helper()
	if c.authz == notCalled {
		for name := range got.Headers {
			if strings.HasPrefix(name, "x-gatehouse-") {
				t.Errorf("%s: the app saw %s without a check", c.name, name)
			}
		}
		return
	}
	for name, want := range map[string]string{
		"x-gatehouse-principal": c.principal, "x-gatehouse-roles": c.roles, "x-gatehouse-email": c.email,
	} {
		if v, ok := got.Headers[name]; v != want || (want == "") == ok {
			t.Errorf("%s: the app saw %s = %q (present %v), want %q", c.name, name, v, ok, want)
		}
	}
	if id := got.Headers["x-gatehouse-decision-id"]; len(id) != 32 {
		t.Errorf("%s: the app saw decision id %q", c.name, id)
	}
	wantPath := c.path
	if c.appPath != "" {
		wantPath = c.appPath
	}
	if got.Path != wantPath || got.Method != c.method {
		t.Errorf("%s: the app saw %s %s, want %s %s", c.name, got.Method, got.Path, c.method, wantPath)
	}
}

// demoTokenSet holds the tokens of the matrix.
type demoTokenSet map[string]string

func (ts demoTokenSet) value(t *testing.T, name string) string {
	t.Helper()
	if strings.HasPrefix(name, "Bearer ") {
		return name
	}
	tok, ok := ts[name]
	if !ok {
		t.Fatalf("no token %q", name)
	}
	return "Bearer " + tok
}

// demoTokens reads the demo tokens and makes the hostile ones: a forged signature, alg
// none, a tampered payload, and tokens from the demo key for the wrong issuer and
// audience (minted by the gatehouse the script built).
func demoTokens(t *testing.T, s *stack) demoTokenSet {
	t.Helper()
	ts := demoTokenSet{}
	for _, name := range []string{"alice.jwt", "bob.jwt", "carol.jwt", "expired.jwt"} {
		b, err := os.ReadFile(demotest.Path(t, "envoy/demo/tokens/"+name))
		if err != nil {
			t.Fatal(err)
		}
		ts[name] = strings.TrimSpace(string(b))
	}
	parts := strings.Split(ts["alice.jwt"], ".")
	if len(parts) != 3 {
		t.Fatal("alice.jwt is not a JWS")
	}
	b64 := base64.RawURLEncoding.EncodeToString
	sig := []byte(parts[2])
	sig[len(sig)/2] ^= 1
	ts["forged"] = parts[0] + "." + parts[1] + "." + string(sig)
	ts["none"] = b64([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + parts[1] + "."
	ts["tampered"] = parts[0] + "." + b64([]byte(`{"sub":"alice","roles":["admin"],"iss":"https://auth.demo.gatehouse.local","aud":"documents-api","exp":4102444800}`)) + "." + parts[2]
	mint := func(args ...string) string {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, s.gatehouse, append([]string{"mint-token", "--sub", "alice", "--roles", "admin"}, args...)...)
		cmd.Dir = demotest.Root(t)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("mint-token %v: %v", args, err)
		}
		return strings.TrimSpace(string(out))
	}
	ts["wrong-issuer"] = mint("--iss", "https://evil.example")
	ts["wrong-audience"] = mint("--aud", "another-api")
	return ts
}

// waitClosed waits (bounded) until nothing accepts connections on 127.0.0.1:port.
func waitClosed(t *testing.T, port int) {
	t.Helper()
	for i := 0; i < 100; i++ {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 100*time.Millisecond)
		if err != nil {
			return
		}
		c.Close()
		time.Sleep(100 * time.Millisecond)
	}
	t.Errorf("127.0.0.1:%d still accepts connections", port)
}
