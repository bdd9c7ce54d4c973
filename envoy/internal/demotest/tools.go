// Package demotest finds what the tests of envoy/ run: the repository, the Envoy binary,
// the virtualenv with the demo app's requirements, and a gatehouse binary built from
// this checkout. A missing tool skips the test, except under CI=true, where it fails it.
package demotest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// Environment variables that `make test` sets.
const (
	ToolsEnv = "GATEHOUSE_TOOLS" // directory with envoy and cerbos (.tools/bin)
	VenvEnv  = "GATEHOUSE_VENV"  // virtualenv with Flask, gunicorn and pytest (.tools/venv)
)

// InCI reports whether the tests run in CI (CI=true).
func InCI() bool { return os.Getenv("CI") == "true" }

// SkipUnlessCI skips the test with the formatted reason, or fails it under CI=true.
func SkipUnlessCI(tb testing.TB, format string, args ...any) {
	tb.Helper()
	msg := fmt.Sprintf(format, args...)
	if InCI() {
		tb.Fatalf("%s (CI=true, so this is a failure)", msg)
	}
	tb.Skip(msg)
}

// Root returns the repository root (the directory of go.mod above the working directory).
func Root(tb testing.TB) string {
	tb.Helper()
	dir, err := os.Getwd()
	if err != nil {
		tb.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			tb.Fatal("no go.mod above the working directory")
		}
		dir = parent
	}
}

// Path returns the file at rel (slash-separated, relative to the repository root).
func Path(tb testing.TB, rel string) string {
	tb.Helper()
	return filepath.Join(Root(tb), filepath.FromSlash(rel))
}

// Envoy returns the envoy executable: $GATEHOUSE_TOOLS/envoy, .tools/bin/envoy, or PATH.
func Envoy(tb testing.TB) string {
	tb.Helper()
	var candidates []string
	if dir := os.Getenv(ToolsEnv); dir != "" {
		candidates = append(candidates, filepath.Join(dir, "envoy"))
	}
	candidates = append(candidates, Path(tb, ".tools/bin/envoy"))
	for _, c := range candidates {
		if isExecutable(c) {
			return c
		}
	}
	if p, err := exec.LookPath("envoy"); err == nil {
		return p
	}
	SkipUnlessCI(tb, "envoy not found (run `make tools`)")
	return ""
}

// Venv returns the virtualenv with the demo app's requirements ($GATEHOUSE_VENV or
// .tools/venv); its bin/ holds python, gunicorn and pytest.
func Venv(tb testing.TB) string {
	tb.Helper()
	venv := os.Getenv(VenvEnv)
	if venv == "" {
		venv = Path(tb, ".tools/venv")
	}
	for _, tool := range []string{"python", "gunicorn", "pytest"} {
		if !isExecutable(filepath.Join(venv, "bin", tool)) {
			SkipUnlessCI(tb, "%s not found in the virtualenv %s (run `make tools`)", tool, venv)
		}
	}
	return venv
}

var gatehouse struct {
	once sync.Once
	path string
	err  error
}

// Gatehouse builds ./cmd/gatehouse once per test binary and returns its path.
func Gatehouse(tb testing.TB) string {
	tb.Helper()
	root := Root(tb)
	gatehouse.once.Do(func() {
		dir, err := os.MkdirTemp("", "gatehouse-bin-")
		if err != nil {
			gatehouse.err = err
			return
		}
		gatehouse.path = filepath.Join(dir, "gatehouse")
		cmd := exec.Command("go", "build", "-o", gatehouse.path, "./cmd/gatehouse")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			gatehouse.err = fmt.Errorf("go build ./cmd/gatehouse: %v\n%s", err, out)
		}
	})
	if gatehouse.err != nil {
		tb.Fatal(gatehouse.err)
	}
	return gatehouse.path
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort(tb testing.TB) int {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path) // follows the .tools symlinks
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}
