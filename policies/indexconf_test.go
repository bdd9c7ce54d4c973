package policies

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"testing/fstest"
)

// indexCase is one file of conformance/cerbos/index.
type indexCase struct {
	Files       map[string]string `json:"files"`
	WantErr     string            `json:"wantErr"`
	WantErrList *struct {
		LoadFailures []struct {
			File         string `json:"file"`
			Error        string `json:"error"`
			ErrorDetails *struct {
				Kind     string        `json:"kind"`
				Message  string        `json:"message"`
				Position *casePosition `json:"position"`
			} `json:"errorDetails"`
		} `json:"loadFailures"`
		DuplicateDefs []struct {
			File      string        `json:"file"`
			OtherFile string        `json:"otherFile"`
			Policy    string        `json:"policy"`
			Position  *casePosition `json:"position"`
		} `json:"duplicateDefs"`
		MissingImports []struct {
			ImportingFile string        `json:"importingFile"`
			Desc          string        `json:"desc"`
			Position      *casePosition `json:"position"`
		} `json:"missingImports"`
		MissingScopeDetails []struct {
			MissingPolicy string   `json:"missingPolicy"`
			Descendants   []string `json:"descendants"`
		} `json:"missingScopeDetails"`
		DisabledDefs []struct {
			File     string        `json:"file"`
			Policy   string        `json:"policy"`
			Position *casePosition `json:"position"`
		} `json:"disabledDefs"`
	} `json:"wantErrList"`
	WantCompilationUnits []struct {
		MainFqn string `json:"mainFqn"`
	} `json:"wantCompilationUnits"`
}

type casePosition struct {
	Line   int    `json:"line"`
	Column int    `json:"column"`
	Path   string `json:"path"`
}

// wantProblem is an expected problem: its file ("" = any file), position (0 = not
// compared), the text the message must start with, and texts it must contain.
type wantProblem struct {
	file      string
	line, col int
	category  error
	prefix    string
	contains  []string
}

func (w wantProblem) String() string {
	return fmt.Sprintf("%s:%d:%d: %s… containing %q", w.file, w.line, w.col, w.prefix, w.contains)
}

func (w wantProblem) matches(p *Problem) bool {
	if w.file != "" && p.File != w.file {
		return false
	}
	if w.line != 0 && (p.Pos.Line != w.line || p.Pos.Column != w.col) {
		return false
	}
	if w.category != nil && p.Category != w.category {
		return false
	}
	if !strings.HasPrefix(p.Message, w.prefix) {
		return false
	}
	for _, c := range w.contains {
		if !strings.Contains(p.Message, c) {
			return false
		}
	}
	return true
}

// matchProblems pairs wanted and actual problems one to one and describes the difference.
func matchProblems(want []wantProblem, got ProblemList) string {
	used := make([]bool, len(got))
	var b strings.Builder
	for _, w := range want {
		found := false
		for i, p := range got {
			if !used[i] && w.matches(p) {
				used[i], found = true, true
				break
			}
		}
		if !found {
			fmt.Fprintf(&b, "missing: %s\n", w)
		}
	}
	for i, p := range got {
		if !used[i] {
			fmt.Fprintf(&b, "unexpected: %s\n", p)
		}
	}
	return b.String()
}

func pos(p *casePosition) (int, int) {
	if p == nil {
		return 0, 0
	}
	return p.Line, p.Column
}

// TestIndexConformance loads the files of every conformance/cerbos/index case as a
// repository and compares the problems with what the Cerbos index builder reports.
//
// Comparison rule: problems and expected errors pair up one to one, by file, position
// (where Cerbos gives one) and kind:
//   - loadFailures: the same file, position and category (KIND_PARSE_ERROR is ErrParse,
//     KIND_VALIDATION_ERROR is ErrValidation), and the message contains Cerbos's message;
//   - duplicateDefs: "duplicate policy definition" in the file, at the position, naming
//     the policy and the other file;
//   - missingImports: "import not found" in the importing file, at the position,
//     containing Cerbos's description ("cannot find derived roles 'x' imported by …");
//   - missingScopeDetails: "missing policy definition" naming the missing policy and every
//     descendant (Cerbos gives no file);
//   - disabledDefs: "disabled policy" in the file, at the position, naming the policy;
//   - wantCompilationUnits: each main policy is read from the repository.
//
// Problems of category ErrCompile (CEL, derived-role resolution, scripts in conditions)
// come from compiling, which Cerbos's index builder does not do, so they are left out.
func TestIndexConformance(t *testing.T) {
	dir := requireConformance(t, "index")
	cases, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil || len(cases) == 0 {
		t.Fatalf("no index cases in %s: %v", dir, err)
	}
	sort.Strings(cases)
	passed := 0
	var failed []string
	for _, path := range cases {
		name := strings.TrimSuffix(filepath.Base(path), ".yaml")
		ok := t.Run(name, func(t *testing.T) {
			var tc indexCase
			readYAMLAsJSON(t, path, &tc)
			fsys := fstest.MapFS{}
			for f, content := range tc.Files {
				fsys[f] = &fstest.MapFile{Data: []byte(content)}
			}
			_, err := Load(fsys, Config{})
			var got ProblemList
			for _, p := range problemsOf(t, err) {
				if p.Category != ErrCompile {
					got = append(got, p)
				}
			}
			want := indexWant(tc)
			if tc.WantErr != "" && err == nil {
				t.Errorf("Load succeeded; want an error like %q", tc.WantErr)
			}
			if msg := matchProblems(want, got); msg != "" {
				t.Error(msg)
			}
			if len(tc.WantCompilationUnits) > 0 {
				keys := repositoryKeys(t, fsys)
				for _, u := range tc.WantCompilationUnits {
					if k := strings.TrimPrefix(u.MainFqn, "cerbos."); !keys[k] {
						t.Errorf("policy %s not loaded; have %v", k, keys)
					}
				}
			}
		})
		if ok {
			passed++
		} else {
			failed = append(failed, name)
		}
	}
	t.Logf("index: %d/%d cases pass", passed, len(cases))
	if len(failed) > 0 {
		t.Logf("index: failing cases: %s", strings.Join(failed, ", "))
	}
}

func indexWant(tc indexCase) []wantProblem {
	l := tc.WantErrList
	if l == nil {
		return nil
	}
	var want []wantProblem
	for _, f := range l.LoadFailures {
		w := wantProblem{file: f.File, contains: []string{f.Error}}
		if d := f.ErrorDetails; d != nil {
			w.line, w.col = pos(d.Position)
			w.contains = []string{d.Message}
			switch d.Kind {
			case "KIND_PARSE_ERROR":
				w.category = ErrParse
			case "KIND_VALIDATION_ERROR":
				w.category = ErrValidation
			}
		}
		want = append(want, w)
	}
	for _, d := range l.DuplicateDefs {
		w := wantProblem{file: d.File, prefix: "duplicate policy definition", contains: []string{d.Policy, d.OtherFile}}
		w.line, w.col = pos(d.Position)
		want = append(want, w)
	}
	for _, m := range l.MissingImports {
		w := wantProblem{file: m.ImportingFile, prefix: "import not found", contains: []string{m.Desc}}
		w.line, w.col = pos(m.Position)
		want = append(want, w)
	}
	for _, m := range l.MissingScopeDetails {
		want = append(want, wantProblem{prefix: "missing policy definition", contains: append([]string{m.MissingPolicy}, m.Descendants...)})
	}
	for _, d := range l.DisabledDefs {
		w := wantProblem{file: d.File, prefix: "disabled policy", contains: []string{d.Policy}}
		w.line, w.col = pos(d.Position)
		want = append(want, w)
	}
	return want
}

// repositoryKeys lists the keys of the enabled policies read from a repository.
func repositoryKeys(t *testing.T, fsys fstest.MapFS) map[string]bool {
	t.Helper()
	repo, _ := ReadRepository(fsys)
	keys := map[string]bool{}
	for _, p := range repo.Policies {
		if !p.Disabled && p.complete() {
			keys[p.Key()] = true
		}
	}
	return keys
}
