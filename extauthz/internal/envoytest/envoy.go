package envoytest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

const (
	// readyTimeout bounds how long Start waits for /ready to say LIVE.
	readyTimeout = 30 * time.Second
	// stopGrace is how long Stop waits after SIGTERM before SIGKILL.
	stopGrace = 10 * time.Second
	// killWait bounds the wait for the process after SIGKILL.
	killWait = 5 * time.Second
	// startAttempts is how often Start tries when an auto-picked port was
	// taken between choosing it and Envoy binding it.
	startAttempts = 3
	// logTail is how much of Envoy's output is kept.
	logTail = 256 << 10
	// fileFlushMsec is Envoy's access log flush interval (default 10 s).
	fileFlushMsec = 20
)

// Envoy is a running Envoy process started by Start.
type Envoy struct {
	cfg           Config
	ports         ports
	nodeID        string // unique per run, checked on the admin endpoint
	accessLogPath string
	bootstrap     []byte
	cmd           *exec.Cmd
	log           *tailBuffer
	client        *http.Client
	exited        chan struct{} // closed when the process has exited
	waitErr       error         // valid after exited is closed
	stopOnce      sync.Once
}

// Start runs Envoy with cfg and returns once its admin endpoint reports LIVE.
// The process is stopped in t.Cleanup, and its log is printed when the test
// has failed. Start skips the test when no envoy binary is found (fails it when
// CI=true) and fails the test when Envoy does not become ready within 30 s.
func Start(t testing.TB, cfg Config) *Envoy {
	t.Helper()
	bin := RequireEnvoy(t)
	cfg = cfg.withDefaults()
	dir := t.TempDir()

	var lastErr error
	for attempt := 1; attempt <= startAttempts; attempt++ {
		e, err := start(bin, dir, cfg, attempt)
		if err == nil {
			t.Cleanup(func() {
				e.Stop()
				if t.Failed() {
					t.Logf("envoy log (tail):\n%s\naccess log:\n%s", e.Log(), strings.Join(e.AccessLog(), "\n"))
				}
			})
			return e
		}
		lastErr = err
		// Only a lost race for an auto-picked port is worth another try.
		autoPorts := cfg.ListenerPort == 0 || cfg.AdminPort == 0
		if !autoPorts || !errors.Is(err, errAddrInUse) {
			break
		}
	}
	t.Fatalf("envoytest: %v", lastErr)
	return nil
}

var errAddrInUse = errors.New("address already in use")

// runs numbers the Envoy runs of this test process, for unique node ids.
var runs atomic.Int64

func start(bin, baseDir string, cfg Config, attempt int) (*Envoy, error) {
	p := ports{listener: cfg.ListenerPort, admin: cfg.AdminPort}
	var err error
	if p.listener == 0 {
		if p.listener, err = freePort(); err != nil {
			return nil, err
		}
	}
	if p.admin == 0 {
		if p.admin, err = freePort(); err != nil {
			return nil, err
		}
	}
	dir := filepath.Join(baseDir, "run"+strconv.Itoa(attempt))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	e := &Envoy{
		cfg:           cfg,
		ports:         p,
		accessLogPath: filepath.Join(dir, "access.log"),
		log:           newTailBuffer(logTail),
		client:        &http.Client{Timeout: 10 * time.Second},
		exited:        make(chan struct{}),
	}
	e.nodeID = fmt.Sprintf("envoytest-%d-%d", os.Getpid(), runs.Add(1))
	if e.bootstrap, err = renderBootstrap(cfg, p, e.nodeID, e.accessLogPath); err != nil {
		return nil, err
	}
	// Envoy picks the parser from the extension; protojson output is YAML.
	cfgPath := filepath.Join(dir, "bootstrap.yaml")
	if err := os.WriteFile(cfgPath, e.bootstrap, 0o644); err != nil {
		return nil, err
	}
	e.cmd = exec.Command(bin, e.args(cfgPath)...)
	e.cmd.Dir = dir
	e.cmd.Stdout = e.log
	e.cmd.Stderr = e.log
	e.cmd.SysProcAttr = childProcAttr()
	if err := e.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	go func() {
		e.waitErr = e.cmd.Wait()
		close(e.exited)
	}()

	ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
	defer cancel()
	if err := e.waitReady(ctx); err != nil {
		e.Stop()
		if strings.Contains(e.log.String(), "Address already in use") {
			err = fmt.Errorf("%w: %w", errAddrInUse, err)
		}
		return nil, fmt.Errorf("%w\n--- envoy log (tail) ---\n%s", err, e.log.String())
	}
	return e, nil
}

// args returns Envoy's command line. Hot restart is disabled, so no shared
// memory or domain socket is created and instances cannot collide; the dynamic
// base id is belt and braces.
func (e *Envoy) args(cfgPath string) []string {
	args := []string{
		"-c", cfgPath,
		"--disable-hot-restart",
		"--use-dynamic-base-id",
		"--log-level", e.cfg.LogLevel,
		"--concurrency", strconv.Itoa(e.cfg.Concurrency),
		"--file-flush-interval-msec", strconv.Itoa(fileFlushMsec),
	}
	if e.cfg.ComponentLogLevel != "" {
		args = append(args, "--component-log-level", e.cfg.ComponentLogLevel)
	}
	return args
}

// waitReady polls /ready until it answers LIVE and /server_info shows our node
// id (another Envoy may hold the admin port we picked, in which case ours exits
// with "Address already in use"), the process exits or ctx ends.
func (e *Envoy) waitReady(ctx context.Context) error {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	var last string
	for {
		if state, err := e.adminGet(ctx, "/ready"); err == nil {
			last = strings.TrimSpace(state)
			if last == "LIVE" && e.isOurs(ctx) {
				return nil
			}
		}
		select {
		case <-e.exited:
			return fmt.Errorf("envoy exited before becoming ready: %v", e.waitErr)
		case <-ctx.Done():
			return fmt.Errorf("envoy not LIVE after %s (last /ready: %q)", readyTimeout, last)
		case <-tick.C:
		}
	}
}

// isOurs reports whether the admin endpoint belongs to this Envoy.
func (e *Envoy) isOurs(ctx context.Context) bool {
	body, err := e.adminGet(ctx, "/server_info")
	if err != nil {
		return false
	}
	var info struct {
		Node struct {
			ID string `json:"id"`
		} `json:"node"`
	}
	return json.Unmarshal([]byte(body), &info) == nil && info.Node.ID == e.nodeID
}

// adminGet fetches an admin path and returns the body of any response.
func (e *Envoy) adminGet(ctx context.Context, path string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.AdminURL()+path, nil)
	if err != nil {
		return "", err
	}
	resp, err := e.client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return string(body), fmt.Errorf("GET %s: HTTP %d", path, resp.StatusCode)
	}
	return string(body), nil
}

// URL is the base URL of the HTTP listener, e.g. "http://127.0.0.1:12345".
func (e *Envoy) URL() string { return "http://127.0.0.1:" + strconv.Itoa(e.ports.listener) }

// AdminURL is the base URL of the admin interface.
func (e *Envoy) AdminURL() string { return "http://127.0.0.1:" + strconv.Itoa(e.ports.admin) }

// Bootstrap returns the configuration Envoy was started with.
func (e *Envoy) Bootstrap() string { return string(e.bootstrap) }

// Log returns the tail of Envoy's own log output.
func (e *Envoy) Log() string { return e.log.String() }

// Stop terminates Envoy: SIGTERM, then SIGKILL after a grace period. It is
// safe to call more than once; Start's cleanup calls it too.
func (e *Envoy) Stop() {
	e.stopOnce.Do(func() {
		defer e.client.CloseIdleConnections()
		select {
		case <-e.exited:
			return
		default:
		}
		_ = e.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-e.exited:
			return
		case <-time.After(stopGrace):
		}
		_ = e.cmd.Process.Kill()
		select {
		case <-e.exited:
		case <-time.After(killWait):
			fmt.Fprintf(e.log, "envoytest: pid %d did not exit after SIGKILL\n", e.cmd.Process.Pid)
		}
	})
}
