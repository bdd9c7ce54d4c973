package policies

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"testing/fstest"

	"golang.org/x/tools/txtar"
)

// compileCase is one file of conformance/cerbos/compile.
type compileCase struct {
	MainDef    string          `json:"mainDef"`
	WantErrors []wantCompileEr `json:"wantErrors"`
}

type wantCompileEr struct {
	File        string `json:"file"`
	Error       string `json:"error"`
	Description string `json:"description"`
	Position    *struct {
		Line   int    `json:"line"`
		Column int    `json:"column"`
		Path   string `json:"path"`
	} `json:"position"`
}

// TestCompileConformance loads every case of conformance/cerbos/compile (the txtar archive
// as a repository, with _schemas taken from schema/fs/_schemas) and compares the problems
// with the case's wantErrors.
//
// Comparison rule: the problems and the wanted errors must pair up, by file, position and
// message:
//   - the file is the same;
//   - the message starts with the wanted error class ("invalid expression",
//     "undefined variable", "missing policy definition", …), compared case-insensitively;
//   - every fact the description quotes ('x', "x") appears in the message, so the names,
//     keys and CEL issues are the same even where the wording around them differs;
//   - where the wanted error has a position, line and column are the same, except for
//     errors inside a CEL expression of a condition or output (path ending in "expr"):
//     Cerbos points at the expr key, gatehouse at the offending token, so the problem must
//     lie within the expression, from the wanted position to its last line. Cerbos lists
//     all CEL issues of one expression in one error; gatehouse reports each issue at its
//     own place, so one wanted "invalid expression" matches all problems of that
//     expression, and the facts are looked for in them together.
//
// A case without wantErrors must load without any problem. Cerbos compiles only the
// compilation unit of mainDef, gatehouse the whole archive, so problems in files outside
// that unit (mainDef, the derived roles, variables and constants it imports and its
// ancestor-scope policies) are not compared. Cerbos's compiler also stops at the first
// definition of the unit with errors, while a Cerbos disk store reports missing ancestor
// scopes before compiling anything (checked with the cerbos binary on
// scoped_rp_missing_import); so an extra "missing policy definition" problem is accepted
// when the archive indeed has no policy with the missing key.
//
// Cases in compileDifferences are run and counted like every other case, but a difference
// there is logged with its reason instead of failing the test; if such a case starts to
// pass, the test fails so that the list is kept up to date.
func TestCompileConformance(t *testing.T) {
	dir := requireConformance(t, "compile")
	schemaDir := requireConformance(t, "schema/fs/_schemas")
	cases, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil || len(cases) == 0 {
		t.Fatalf("no compile cases in %s: %v", dir, err)
	}
	sort.Strings(cases)
	passed := 0
	var failed []string
	for _, path := range cases {
		name := strings.TrimSuffix(filepath.Base(path), ".yaml")
		diverged := false
		ok := t.Run(name, func(t *testing.T) {
			var tc compileCase
			readYAMLAsJSON(t, path, &tc)
			fsys := readTxtar(t, path+".input")
			if _, ok := fsys[tc.MainDef]; !ok {
				t.Fatalf("mainDef %q is not in the archive", tc.MainDef)
			}
			unit, defined := compilationUnit(t, fsys, tc.MainDef)
			addDir(t, fsys, schemaDir, SchemasDir)
			_, err := Load(fsys, Config{})
			var got ProblemList
			for _, p := range problemsOf(t, err) {
				if len(tc.WantErrors) == 0 || unit[p.File] {
					got = append(got, p)
				}
			}
			msg := compareCompileErrors(tc.WantErrors, got, defined)
			reason, known := compileDifferences[name]
			switch {
			case msg != "" && known:
				t.Logf("known difference (%s):\n%s", reason, msg)
				diverged = true
			case msg != "":
				t.Error(msg)
			case known:
				t.Errorf("case passes now; remove it from compileDifferences")
			}
		})
		switch {
		case ok && !diverged:
			passed++
		case diverged:
			failed = append(failed, name+" ("+compileDifferences[name]+")")
		default:
			failed = append(failed, name)
		}
	}
	t.Logf("compile: %d/%d cases pass", passed, len(cases))
	if len(failed) > 0 {
		t.Logf("compile: failing cases: %s", strings.Join(failed, ", "))
	}
}

// compileDifferences are the compile cases where gatehouse deliberately reports
// something else than Cerbos, with the reason.
var compileDifferences = map[string]string{
	"variables_index_lookup": "Cerbos names the type of C and G 'cerbos.Variables' in the " +
		"'_[_]' overload error; gatehouse names them cerbos.Constants and cerbos.Globals, " +
		"which says which namespace cannot be indexed",
}

// compilationUnit returns the files of mainDef's compilation unit and the keys of every
// enabled policy of the archive.
func compilationUnit(t *testing.T, fsys fstest.MapFS, mainDef string) (map[string]bool, map[string]bool) {
	t.Helper()
	byKey := map[string]*Policy{}
	defined := map[string]bool{}
	for name, f := range fsys {
		p, _ := ParsePolicy(name, f.Data)
		if p == nil || !p.complete() {
			continue
		}
		if !p.Disabled {
			defined[p.Key()] = true
		}
		byKey[p.Key()] = p
	}
	unit := map[string]bool{mainDef: true}
	var add func(p *Policy)
	add = func(p *Policy) {
		unit[p.File] = true
		var imports []string
		addConsts := func(c Constants, v Variables) {
			for _, r := range c.Import {
				imports = append(imports, "export_constants."+r.Name)
			}
			for _, r := range v.Import {
				imports = append(imports, "export_variables."+r.Name)
			}
		}
		switch p.Kind {
		case KindResource:
			addConsts(p.Resource.Constants, p.Resource.Variables)
			for _, r := range p.Resource.ImportDerivedRoles {
				imports = append(imports, "derived_roles."+r.Name)
			}
			for _, anc := range parentScopes(p.Resource.Scope) {
				imports = append(imports, resourceKey(p.Resource.Resource, p.Resource.Version, anc))
			}
		case KindPrincipal:
			addConsts(p.Principal.Constants, p.Principal.Variables)
			for _, anc := range parentScopes(p.Principal.Scope) {
				imports = append(imports, principalKey(p.Principal.Principal, p.Principal.Version, anc))
			}
		case KindRole:
			addConsts(p.Role.Constants, p.Role.Variables)
		case KindDerivedRoles:
			addConsts(p.DerivedRoles.Constants, p.DerivedRoles.Variables)
		}
		for _, k := range imports {
			if dep, ok := byKey[k]; ok && !unit[dep.File] {
				add(dep)
			}
		}
	}
	data := fsys[mainDef].Data
	if p, _ := ParsePolicy(mainDef, data); p != nil && p.complete() {
		add(p)
	}
	return unit, defined
}

// problemsOf turns a Load error into its problem list (nil for success).
func problemsOf(t *testing.T, err error) ProblemList {
	t.Helper()
	if err == nil {
		return nil
	}
	var list ProblemList
	if !errors.As(err, &list) {
		t.Fatalf("error is %T, not a ProblemList: %v", err, err)
	}
	return list
}

var missingKey = regexp.MustCompile(`scoped policy (\S+) is not found`)

func compareCompileErrors(want []wantCompileEr, got ProblemList, defined map[string]bool) string {
	used := make([]bool, len(got))
	var b strings.Builder
	for _, w := range want {
		var matched []int
		var text strings.Builder
		for i, p := range got {
			if used[i] || !compileErrorMatches(w, p) {
				continue
			}
			if !isExprError(w) {
				if containsFacts(p.Message, w.Description) {
					matched = []int{i}
					break
				}
				continue
			}
			matched = append(matched, i)
			text.WriteString(p.Message + "\n")
		}
		if len(matched) > 0 && isExprError(w) && !containsFacts(text.String(), w.Description) {
			matched = nil
		}
		for _, i := range matched {
			used[i] = true
		}
		if len(matched) == 0 {
			pos := ""
			if w.Position != nil {
				pos = fmt.Sprintf(":%d:%d", w.Position.Line, w.Position.Column)
			}
			fmt.Fprintf(&b, "missing: %s%s: %s: %s\n", w.File, pos, w.Error, w.Description)
		}
	}
	for i, p := range got {
		if used[i] {
			continue
		}
		if m := missingKey.FindStringSubmatch(p.Message); m != nil && strings.HasPrefix(p.Message, "missing policy definition") && !defined[m[1]] {
			continue
		}
		fmt.Fprintf(&b, "unexpected: %s\n", p)
	}
	return b.String()
}

// isExprError reports whether a wanted error is about a CEL expression of a condition or
// an output, which Cerbos places at the expr key.
func isExprError(w wantCompileEr) bool {
	return w.Position != nil && strings.HasSuffix(w.Position.Path, "expr")
}

var backticked = regexp.MustCompile("(?s)`(.*)`")

func compileErrorMatches(w wantCompileEr, p *Problem) bool {
	if p.File != w.File {
		return false
	}
	if !strings.HasPrefix(strings.ToLower(p.Message), strings.ToLower(strings.TrimSpace(w.Error))) {
		return false
	}
	if w.Position == nil {
		return true
	}
	if !isExprError(w) {
		return p.Pos.Line == w.Position.Line && p.Pos.Column == w.Position.Column
	}
	// Within the expression: from the expr key to the expression's last line (a block
	// scalar starts on the line after the key).
	lines := 1
	if m := backticked.FindStringSubmatch(w.Description); m != nil {
		lines = strings.Count(strings.TrimSpace(m[1]), "\n") + 1
		first, _, _ := strings.Cut(strings.TrimSpace(m[1]), "\n")
		if !strings.Contains(p.Message, "`"+first) {
			return false
		}
	}
	switch {
	case p.Pos.Line == w.Position.Line:
		return p.Pos.Column >= w.Position.Column
	default:
		return p.Pos.Line > w.Position.Line && p.Pos.Line <= w.Position.Line+lines
	}
}

var quotedFact = regexp.MustCompile(`'[^'\n]*'|"[^"\n]*"`)

// containsFacts reports whether every quoted name or value of want appears in got.
func containsFacts(got, want string) bool {
	if m := backticked.FindStringIndex(want); m != nil {
		want = want[:m[0]] + want[m[1]:] // the expression itself is compared separately
	}
	for _, q := range quotedFact.FindAllString(want, -1) {
		if !strings.Contains(got, q[1:len(q)-1]) {
			return false
		}
	}
	return true
}

// readTxtar reads a txtar archive into a file system.
func readTxtar(t testing.TB, path string) fstest.MapFS {
	t.Helper()
	a, err := txtar.ParseFile(path)
	if err != nil {
		t.Fatal(err)
	}
	fsys := fstest.MapFS{}
	for _, f := range a.Files {
		fsys[strings.TrimSpace(f.Name)] = &fstest.MapFile{Data: f.Data}
	}
	return fsys
}

// addDir copies the files under dir into fsys below prefix.
func addDir(t testing.TB, fsys fstest.MapFS, dir, prefix string) {
	t.Helper()
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		fsys[prefix+"/"+filepath.ToSlash(rel)] = &fstest.MapFile{Data: data}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
