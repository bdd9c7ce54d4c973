package cerbospdp

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

// ErrNotFound is returned by FindBinary when no cerbos executable exists.
var ErrNotFound = errors.New("cerbos binary not found (run `make tools`)")

// FindBinary returns the path of the cerbos executable, looking in order at
// $GATEHOUSE_TOOLS/cerbos, at .tools/bin/cerbos in the module root (found by
// walking up from the working directory to go.mod), and on PATH.
func FindBinary() (string, error) {
	var candidates []string
	if dir := os.Getenv(ToolsEnv); dir != "" {
		candidates = append(candidates, filepath.Join(dir, "cerbos"))
	}
	if root, err := ModuleRoot(); err == nil {
		candidates = append(candidates, filepath.Join(root, ".tools", "bin", "cerbos"))
	}
	for _, c := range candidates {
		if isExecutable(c) {
			return c, nil
		}
	}
	if p, err := exec.LookPath("cerbos"); err == nil {
		return p, nil
	}
	return "", ErrNotFound
}

// ModuleRoot returns the nearest directory at or above the working directory
// that contains a go.mod file.
func ModuleRoot() (string, error) {
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
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
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

// RequireBinary returns the cerbos executable for a test, skipping the test
// when it is missing (failing it in CI).
func RequireBinary(tb testing.TB) string {
	tb.Helper()
	bin, err := FindBinary()
	if err != nil {
		SkipUnlessCI(tb, "%v", err)
	}
	return bin
}

// ConformanceDir returns the Cerbos conformance data folder, shared/conformance/cerbos
// next to the repository, skipping the test when it is missing (failing it in CI).
func ConformanceDir(tb testing.TB) string {
	tb.Helper()
	root, err := ModuleRoot()
	if err != nil {
		tb.Fatal(err)
	}
	dir := filepath.Join(root, "..", "shared", "conformance", "cerbos")
	if fi, err := os.Stat(filepath.Join(dir, "store")); err != nil || !fi.IsDir() {
		SkipUnlessCI(tb, "conformance data not found at %s", dir)
	}
	return dir
}
