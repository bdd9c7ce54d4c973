package cerbospdp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

const (
	// startTimeout bounds how long Start waits for a healthy server when the
	// caller's context has no earlier deadline.
	startTimeout = 60 * time.Second
	// stopGrace is how long Stop waits after SIGTERM before killing.
	stopGrace = 10 * time.Second
	// requestTimeout bounds one HTTP exchange with the server.
	requestTimeout = 30 * time.Second
	// maxBody caps how much of a response body is read.
	maxBody = 64 << 20
	// startAttempts is how often Start retries when a chosen port was taken.
	startAttempts = 3
)

// Server is a running `cerbos server` child process.
type Server struct {
	baseURL string
	cmd     *exec.Cmd
	log     *TailBuffer
	dir     string
	client  *http.Client
	exited  chan struct{} // closed when the process has exited
	waitErr error         // valid after exited is closed
	once    sync.Once
}

// Start launches `cerbos server` with opts, listening on free 127.0.0.1 ports,
// and returns once GET /_cerbos/health succeeds. It gives up when ctx ends or
// after a minute. The caller must call Stop.
func Start(ctx context.Context, opts Options) (*Server, error) {
	bin := opts.Binary
	if bin == "" {
		var err error
		if bin, err = FindBinary(); err != nil {
			return nil, err
		}
	}
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()

	var lastErr error
	for attempt := 0; attempt < startAttempts; attempt++ {
		s, err := startOnce(ctx, bin, opts)
		if err == nil {
			return s, nil
		}
		lastErr = err
		// Another process may have grabbed a port between choosing it and
		// Cerbos binding it; anything else is not worth retrying.
		if !strings.Contains(err.Error(), "address already in use") || ctx.Err() != nil {
			break
		}
	}
	return nil, lastErr
}

func startOnce(ctx context.Context, bin string, opts Options) (*Server, error) {
	ports, err := freePorts(2)
	if err != nil {
		return nil, err
	}
	httpAddr := fmt.Sprintf("127.0.0.1:%d", ports[0])
	grpcAddr := fmt.Sprintf("127.0.0.1:%d", ports[1])
	cfg, err := serverConfig(opts, httpAddr, grpcAddr)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "cerbospdp-")
	if err != nil {
		return nil, err
	}
	cfgPath := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(cfgPath, cfg, 0o600); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}

	s := &Server{
		baseURL: "http://" + httpAddr,
		log:     NewTailBuffer(64 << 10),
		dir:     dir,
		exited:  make(chan struct{}),
		client:  &http.Client{Timeout: requestTimeout, Transport: &http.Transport{MaxIdleConnsPerHost: 8}},
	}
	// An empty --debug-listen-addr turns off the gops listener, which would
	// otherwise bind :6666 on all interfaces.
	s.cmd = exec.Command(bin, "server", "--config="+cfgPath, "--debug-listen-addr=", "--log-level=warn")
	s.cmd.Dir = dir
	s.cmd.Stdout = s.log
	s.cmd.Stderr = s.log
	s.cmd.SysProcAttr = childProcAttr()
	if err := s.cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("cerbospdp: start %s: %w", bin, err)
	}
	go func() {
		s.waitErr = s.cmd.Wait()
		close(s.exited)
	}()

	if err := s.waitHealthy(ctx); err != nil {
		s.Stop()
		return nil, fmt.Errorf("cerbospdp: %w\n--- cerbos log (tail) ---\n%s", err, s.log.String())
	}
	return s, nil
}

// waitHealthy polls the health endpoint until it answers 200, the process
// exits or ctx ends.
func (s *Server) waitHealthy(ctx context.Context) error {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		reqCtx, cancel := context.WithTimeout(ctx, 2*time.Second)
		req, err := http.NewRequestWithContext(reqCtx, http.MethodGet, s.baseURL+"/_cerbos/health", nil)
		if err != nil {
			cancel()
			return err
		}
		resp, err := s.client.Do(req)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				cancel()
				return nil
			}
		}
		cancel()
		select {
		case <-s.exited:
			return fmt.Errorf("cerbos server exited before becoming healthy: %v", s.waitErr)
		case <-ctx.Done():
			return fmt.Errorf("cerbos server not healthy in time: %w", ctx.Err())
		case <-tick.C:
		}
	}
}

// URL returns the base URL of the server's HTTP API.
func (s *Server) URL() string { return s.baseURL }

// Log returns the tail of the server's log output.
func (s *Server) Log() string { return s.log.String() }

// Check posts one CheckResources request (JSON in the Cerbos HTTP shape) to
// /api/check/resources and returns the response body. A non-200 answer whose
// body is JSON (Cerbos's {"code":…,"message":…} error shape, e.g. HTTP 400 for
// an invalid request) is returned as the body without error; transport
// failures and non-JSON bodies are errors.
func (s *Server) Check(ctx context.Context, reqJSON []byte) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.baseURL+"/api/check/resources", bytes.NewReader(reqJSON))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("cerbospdp: check: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return nil, fmt.Errorf("cerbospdp: check: read body: %w", err)
	}
	if resp.StatusCode != http.StatusOK && !json.Valid(body) {
		return nil, fmt.Errorf("cerbospdp: check: HTTP %d: %.500s", resp.StatusCode, body)
	}
	return body, nil
}

// Stop terminates the server (SIGTERM, then SIGKILL after a grace period) and
// removes its working directory. It is safe to call more than once.
func (s *Server) Stop() {
	s.once.Do(func() {
		defer os.RemoveAll(s.dir)
		defer s.client.CloseIdleConnections()
		select {
		case <-s.exited:
			return
		default:
		}
		if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
			s.cmd.Process.Kill()
		}
		select {
		case <-s.exited:
		case <-time.After(stopGrace):
			s.cmd.Process.Kill()
			<-s.exited
		}
	})
}

// freePorts reserves n distinct loopback ports by listening on port 0, then
// releases them for the child to bind.
func freePorts(n int) ([]int, error) {
	var ports []int
	var listeners []net.Listener
	defer func() {
		for _, l := range listeners {
			l.Close()
		}
	}()
	for i := 0; i < n; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("cerbospdp: reserve port: %w", err)
		}
		listeners = append(listeners, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// TailBuffer is an io.Writer that keeps only the last bytes written, for
// showing the end of a child process's log. It is safe for concurrent use.
type TailBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
}

// NewTailBuffer returns a TailBuffer keeping the last max bytes.
func NewTailBuffer(max int) *TailBuffer { return &TailBuffer{max: max} }

// Write appends p, dropping the oldest bytes beyond the limit.
func (b *TailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if over := len(b.buf) - b.max; over > 0 {
		b.buf = append(b.buf[:0], b.buf[over:]...)
	}
	return len(p), nil
}

// String returns the retained bytes.
func (b *TailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}
