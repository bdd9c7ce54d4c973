package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestServeAndProbe serves the demo configuration with `gatehouse serve`, its listeners
// moved by flags, waits with `gatehouse health` and probes it like a user would.
func TestServeAndProbe(t *testing.T) {
	if testing.Short() {
		t.Skip("serves the demo")
	}
	dir, err := os.MkdirTemp("", "gh") // a short path: Unix socket paths are limited
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	addr := "unix:" + filepath.Join(dir, "grpc.sock")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	var serveErr bytes.Buffer
	go func() {
		done <- run(ctx, []string{"serve", "--config", "../../envoy/demo/gatehouse.yaml",
			"--grpc-address", addr, "--http-address", "127.0.0.1:0", "--log-level", "warn"},
			strings.NewReader(""), io.Discard, &serveErr)
	}()
	stopped := false
	stop := func() int {
		if stopped {
			return exitOK
		}
		stopped = true
		cancel()
		return <-done
	}
	defer stop()
	serving := false
	for i := 0; i < 100 && !serving; i++ { // until the policies are loaded
		code, stdout, _ := runCLI(t, "", "health", "--addr", addr)
		serving = code == exitOK && strings.TrimSpace(stdout) == "SERVING"
		if !serving {
			time.Sleep(20 * time.Millisecond)
		}
	}
	if !serving {
		t.Fatalf("gatehouse health never said SERVING; serve said:\n%s", serveErr.String())
	}
	tok, _ := os.ReadFile("../../envoy/demo/tokens/bob.jwt")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"probe", "--addr", addr, "GET", "/api/documents/7"}, "ALLOW"},
		{[]string{"probe", "--addr", addr, "DELETE", "/api/users/bob/documents/1", "-H", "authorization: Bearer " + strings.TrimSpace(string(tok))}, "x-gatehouse-principal: bob"},
		{[]string{"probe", "--addr", addr, "DELETE", "/api/users/alice/documents/1", "-H", "authorization: Bearer " + strings.TrimSpace(string(tok))}, "DENY 403"},
	} {
		code, stdout, stderr := runCLI(t, "", tc.args...)
		if code != exitOK || !strings.Contains(stdout, tc.want) {
			t.Errorf("%v: exit %d\n%s%s", tc.args[3:5], code, stdout, stderr)
		}
	}
	if code, _, _ := runCLI(t, "", "probe", "--addr", addr, "GET"); code != exitUsage {
		t.Errorf("probe without a path: exit %d", code)
	}
	if code := stop(); code != exitOK {
		t.Fatalf("serve exited with %d after SIGINT-like cancellation:\n%s", code, serveErr.String())
	}
	if code, _, stderr := runCLI(t, "", "health", "--addr", addr, "--timeout", "300ms"); code != exitFailure {
		t.Errorf("health of a stopped server: exit %d, %s", code, stderr)
	}
}
