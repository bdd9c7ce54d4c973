package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestMain lets the test binary stand in for authzbench and its subprocesses: the
// benchmark starts os.Executable() as `noop`, and profile_test.go starts it as a
// profiled `gatehouse serve`. `run` makes the test binary a whole authzbench, whose
// no-op server is then the test binary too (and can be profiled).
func TestMain(m *testing.M) {
	if len(os.Args) > 1 {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		switch os.Args[1] {
		case "run":
			os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
		case "noop":
			os.Exit(withCPUProfile(os.Getenv(noopProfileEnv), func() int {
				return run(ctx, os.Args[1:], os.Stdout, os.Stderr)
			}))
		case "serve":
			os.Exit(profiledServe(ctx, os.Args[2:]))
		}
	}
	os.Exit(m.Run())
}

// TestRun runs the whole benchmark with tiny bounds: both servers start, every check is
// an allow, and the JSON report holds both levels with their targets judged.
func TestRun(t *testing.T) {
	ctx, root := runSetup(t)
	for _, request := range []string{requestAlice, requestAnonymous} {
		t.Run(request, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(ctx, []string{"run", "--json", "--request", request,
				"--config", filepath.Join(root, demoConfig),
				"--requests", "200", "--duration", "10s", "--warmup", "1s",
				"--concurrency", "1,4", "--rounds", "1"}, &stdout, &stderr)
			if code != exitOK {
				t.Fatalf("exit status %d\n%s", code, stderr.String())
			}
			var rep report
			if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
				t.Fatalf("%v\n%s", err, stdout.String())
			}
			if rep.Request != request || len(rep.Levels) != 2 {
				t.Fatalf("report: request %q, %d levels; want %q, 2", rep.Request, len(rep.Levels), request)
			}
			for _, l := range rep.Levels {
				for _, s := range []serverResult{l.Noop, l.Gatehouse} {
					// 200 checks is the bound; 10s is far away.
					if s.Checks != 200 || s.ChecksPerSecond <= 0 || s.P99Micros < s.P50Micros || s.P50Micros <= 0 || s.MaxRSSMiB <= 0 {
						t.Errorf("c=%d: implausible result %+v", l.Concurrency, s)
					}
				}
				if len(l.Targets) != 2 { // throughput and p99; CPU and memory only at c=64
					t.Errorf("c=%d: targets %+v", l.Concurrency, l.Targets)
				}
			}
			if !strings.Contains(stderr.String(), "c=4 round 1/1 gatehouse") {
				t.Errorf("progress lacks the last round:\n%s", stderr.String())
			}
		})
	}
}

// TestDenyStopsTheRun: a request that gatehouse denies ends the run with an error that
// says so, instead of measuring the deny path.
func TestDenyStopsTheRun(t *testing.T) {
	ctx, root := runSetup(t)
	var stdout, stderr bytes.Buffer
	code := run(ctx, []string{"run", "--token", filepath.Join(root, "envoy/demo/tokens/expired.jwt"),
		"--requests", "50", "--concurrency", "1", "--rounds", "1"}, &stdout, &stderr)
	if code != exitFailure || !strings.Contains(stderr.String(), "not an allow") || !strings.Contains(stderr.String(), "HTTP 401") {
		t.Fatalf("exit status %d, stderr:\n%s", code, stderr.String())
	}
}

// runSetup skips in -short mode (a run builds gatehouse and starts two servers) and
// returns a context bounding the run and the repository root.
func runSetup(t *testing.T) (context.Context, string) {
	t.Helper()
	if testing.Short() {
		t.Skip("builds gatehouse and runs two servers")
	}
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	t.Cleanup(cancel)
	return ctx, root
}
