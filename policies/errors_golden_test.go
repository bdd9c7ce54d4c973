package policies

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var updateGolden = flag.Bool("update", false, "rewrite the golden files of TestErrorGoldens")

// TestErrorGoldens loads each repository in testdata/errors/<class>.txtar and compares
// the exact text a user sees (every problem, sorted, as file:line:column: message) with
// testdata/errors/<class>.golden. Run with -update to rewrite the goldens, then review them.
func TestErrorGoldens(t *testing.T) {
	archives, err := filepath.Glob(filepath.Join("testdata", "errors", "*.txtar"))
	if err != nil || len(archives) == 0 {
		t.Fatalf("no error repositories: %v", err)
	}
	for _, archive := range archives {
		class := strings.TrimSuffix(filepath.Base(archive), ".txtar")
		t.Run(class, func(t *testing.T) {
			_, err := Load(readTxtar(t, archive), Config{})
			if err == nil {
				t.Fatal("Load succeeded; every repository here has problems")
			}
			got := err.Error() + "\n"
			golden := strings.TrimSuffix(archive, ".txtar") + ".golden"
			if *updateGolden {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("problems differ from %s\ngot:\n%swant:\n%s", golden, got, want)
			}
		})
	}
}
