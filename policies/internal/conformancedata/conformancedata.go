// Package conformancedata finds Cerbos's conformance data for tests: the folder
// shared/conformance/cerbos that sits beside the repository's checkout.
package conformancedata

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// module is the first line of the repository's go.mod.
const module = "module github.com/gatehouse/gatehouse\n"

// Dir returns the path of the conformance folder sub, relative to the working directory.
// On a developer machine without the data the test is skipped; under CI=true a missing
// folder fails it, because a skip there would hide that nothing was checked.
func Dir(t testing.TB, sub string) string {
	t.Helper()
	dir, err := find(sub)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("conformance data missing: %v", err)
		}
		t.Skipf("conformance data not available: %v", err)
	}
	return dir
}

func find(sub string) (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	root := wd
	for {
		data, err := os.ReadFile(filepath.Join(root, "go.mod"))
		if err == nil && bytes.HasPrefix(data, []byte(module)) {
			break
		}
		parent := filepath.Dir(root)
		if parent == root {
			return "", os.ErrNotExist
		}
		root = parent
	}
	dir := filepath.Join(filepath.Dir(root), "shared", "conformance", "cerbos", sub)
	if _, err := os.Stat(dir); err != nil {
		return "", err
	}
	return filepath.Rel(wd, dir)
}
