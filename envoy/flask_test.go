package envoy_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/envoy/internal/demotest"
)

// minFlaskTests is how many pytest tests envoy/demo/flask/tests had when this was written:
// fewer passing means tests were lost or skipped, not that the app is fine.
const minFlaskTests = 219

// pytestSummary matches the counts on pytest's closing line ("219 passed, 1 failed in 3.1s").
var pytestSummary = regexp.MustCompile(`(\d+) (passed|failed|errors?|skipped|xfailed|xpassed|deselected)\b`)

// TestFlaskAppPytest runs the demo app's own tests (pytest) with the demo virtualenv.
func TestFlaskAppPytest(t *testing.T) {
	python := filepath.Join(demotest.Venv(t), "bin", "python")

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, python, "-m", "pytest", "-q", "-p", "no:cacheprovider",
		"envoy/demo/flask/tests")
	cmd.Dir = demotest.Root(t)
	cmd.Env = append(os.Environ(), "PYTHONDONTWRITEBYTECODE=1")
	cmd.Stdout, cmd.Stderr = &out, &out
	// Its own process group, so a timeout also ends the gunicorn a test started.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 10 * time.Second

	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("pytest did not finish within 3 minutes:\n%s", out.String())
	}
	if err != nil {
		t.Fatalf("pytest: %v\n%s", err, out.String())
	}

	counts := map[string]int{}
	for _, m := range pytestSummary.FindAllStringSubmatch(pytestClosingLine(out.String()), -1) {
		n, _ := strconv.Atoi(m[1])
		counts[m[2]] += n
	}
	if counts["passed"] < minFlaskTests {
		t.Errorf("pytest passed %d tests, want at least %d:\n%s", counts["passed"], minFlaskTests, out.String())
	}
	for _, bad := range []string{"failed", "error", "errors", "skipped", "xfailed", "xpassed", "deselected"} {
		if counts[bad] != 0 {
			t.Errorf("pytest reports %d %s, want none:\n%s", counts[bad], bad, out.String())
		}
	}
	t.Logf("pytest: %s", pytestClosingLine(out.String()))
}

// pytestClosingLine returns the last non-empty line of s: pytest's summary.
func pytestClosingLine(s string) string {
	lines := bytes.Split(bytes.TrimSpace([]byte(s)), []byte("\n"))
	return string(lines[len(lines)-1])
}
