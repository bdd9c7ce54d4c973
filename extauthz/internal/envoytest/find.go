package envoytest

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// ToolsEnv names the environment variable holding the directory with the test
// tools (`make test` sets it to .tools/bin).
const ToolsEnv = "GATEHOUSE_TOOLS"

// ErrNotFound is returned by FindEnvoy when no envoy executable exists.
var ErrNotFound = errors.New("envoy binary not found (run `make tools`)")

// FindEnvoy returns the path of the envoy executable, looking in order at
// $GATEHOUSE_TOOLS/envoy, at .tools/bin/envoy in the module root (found by
// walking up from the working directory to go.mod), and on PATH.
func FindEnvoy() (string, error) {
	var candidates []string
	if dir := os.Getenv(ToolsEnv); dir != "" {
		candidates = append(candidates, filepath.Join(dir, "envoy"))
	}
	if root, err := moduleRoot(); err == nil {
		candidates = append(candidates, filepath.Join(root, ".tools", "bin", "envoy"))
	}
	for _, c := range candidates {
		if isExecutable(c) {
			return c, nil
		}
	}
	if p, err := exec.LookPath("envoy"); err == nil {
		return p, nil
	}
	return "", ErrNotFound
}

// RequireEnvoy returns the envoy executable for a test, skipping the test when
// it is missing (failing it when CI=true).
func RequireEnvoy(tb testing.TB) string {
	tb.Helper()
	bin, err := FindEnvoy()
	if err != nil {
		SkipUnlessCI(tb, "%v", err)
	}
	return bin
}

// InCI reports whether the tests run in CI (CI=true), where a missing tool or
// fixture is a failure rather than a reason to skip.
func InCI() bool { return os.Getenv("CI") == "true" }

// SkipUnlessCI skips the test with the formatted reason, or fails it when
// running in CI.
func SkipUnlessCI(tb testing.TB, format string, args ...any) {
	tb.Helper()
	msg := fmt.Sprintf(format, args...)
	if InCI() {
		tb.Fatalf("%s (CI=true, so this is a failure)", msg)
	}
	tb.Skip(msg)
}

// moduleRoot returns the nearest directory at or above the working directory
// that contains a go.mod file.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod found above the working directory")
		}
		dir = parent
	}
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path) // follows the .tools symlink
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}
