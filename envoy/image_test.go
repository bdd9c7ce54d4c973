package envoy_test

import (
	"bufio"
	"debug/elf"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/envoy/internal/demotest"
)

// The gatehouse image (the root Dockerfile). No Docker engine runs here, so the tests
// read the Dockerfile, run its `go build` on this machine, and check the binary.

const (
	imageBase   = "gcr.io/distroless/static-debian12:nonroot"
	imageBinary = "/usr/local/bin/gatehouse"
)

type dockerInstr struct {
	cmd, args string // "RUN", "--mount=... go build ..."
	line      int
}

type dockerStage struct {
	from, name string
	instrs     []dockerInstr
}

// dockerImage is a parsed Dockerfile; entrypoint, cmd, expose and user are the final
// stage's.
type dockerImage struct {
	stages          []dockerStage
	entrypoint, cmd []string
	expose          []string
	user            string
}

func readDockerfile(path string) (dockerImage, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return dockerImage{}, err
	}
	return parseDockerfile(string(data))
}

// parseDockerfile reads the instructions this repository's Dockerfile uses: comments,
// line continuations, FROM ... [AS name], and JSON (exec) form for ENTRYPOINT and CMD.
func parseDockerfile(text string) (dockerImage, error) {
	var img dockerImage
	var logical string
	start := 0
	sc := bufio.NewScanner(strings.NewReader(text))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if logical == "" && (line == "" || strings.HasPrefix(line, "#")) {
			continue
		}
		if logical == "" {
			start = n
		}
		if cont, ok := strings.CutSuffix(line, `\`); ok {
			logical += cont + " "
			continue
		}
		logical += line
		cmd, args, _ := strings.Cut(logical, " ")
		cmd, args, logical = strings.ToUpper(cmd), strings.TrimSpace(args), ""
		if cmd == "FROM" {
			f := strings.Fields(args)
			st := dockerStage{from: f[0]}
			if len(f) == 3 && strings.EqualFold(f[1], "AS") {
				st.name = f[2]
			}
			img.stages = append(img.stages, st)
			continue
		}
		if len(img.stages) == 0 {
			return img, fmt.Errorf("line %d: %s before FROM", start, cmd)
		}
		st := &img.stages[len(img.stages)-1]
		st.instrs = append(st.instrs, dockerInstr{cmd: cmd, args: args, line: start})
	}
	if len(img.stages) == 0 {
		return img, fmt.Errorf("no FROM")
	}
	for _, in := range img.stages[len(img.stages)-1].instrs {
		var err error
		switch in.cmd {
		case "ENTRYPOINT":
			err = json.Unmarshal([]byte(in.args), &img.entrypoint)
		case "CMD":
			err = json.Unmarshal([]byte(in.args), &img.cmd)
		case "EXPOSE":
			img.expose = append(img.expose, strings.Fields(in.args)...)
		case "USER":
			img.user = in.args
		}
		if err != nil {
			return img, fmt.Errorf("line %d: %s must use the JSON form: %v", in.line, in.cmd, err)
		}
	}
	return img, nil
}

// goBuild is the `go build` RUN instruction of a build stage.
type goBuild struct {
	stage  string
	mounts []string // RUN --mount values
	env    []string // NAME=value before `go build`
	args   []string // after `go`: build ...
	output string   // -o
}

func (img dockerImage) goBuild() (goBuild, error) {
	for _, st := range img.stages[:len(img.stages)-1] {
		for _, in := range st.instrs {
			if in.cmd != "RUN" || !strings.Contains(in.args, "go build") {
				continue
			}
			words, err := shellWords(in.args)
			if err != nil {
				return goBuild{}, fmt.Errorf("line %d: %v", in.line, err)
			}
			b := goBuild{stage: st.name}
			for len(words) > 0 && strings.HasPrefix(words[0], "--mount=") {
				b.mounts, words = append(b.mounts, strings.TrimPrefix(words[0], "--mount=")), words[1:]
			}
			for len(words) > 0 && regexp.MustCompile(`^[A-Z_][A-Z0-9_]*=`).MatchString(words[0]) {
				b.env, words = append(b.env, words[0]), words[1:]
			}
			if len(words) < 2 || words[0] != "go" || words[1] != "build" {
				return goBuild{}, fmt.Errorf("line %d: want one command, [--mount=...] [VAR=value ...] go build ...; got %q", in.line, in.args)
			}
			b.args = words[1:]
			b.output = argFlag(b.args, "-o")
			return b, nil
		}
	}
	return goBuild{}, fmt.Errorf("no RUN ... go build in a build stage")
}

// shellWords splits a command line on blanks, honouring double and single quotes, and
// refuses what would need a shell to mean the same (;, &&, |, $, backquotes).
func shellWords(s string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	var quote rune
	for _, r := range s {
		switch {
		case quote != 0 && r == quote:
			quote = 0
		case quote != 0:
			cur.WriteRune(r)
		case r == '"' || r == '\'':
			quote, inWord = r, true
		case strings.ContainsRune(";&|$`<>", r):
			return nil, fmt.Errorf("shell syntax %q in %q", r, s)
		case r == ' ' || r == '\t':
			if inWord {
				words, inWord = append(words, cur.String()), false
				cur.Reset()
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("unclosed quote in %q", s)
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

// dockerfileProblems checks the image: built with the module's Go version as a static,
// stripped binary, copied onto distroless as nonroot, run as gatehouse.
func dockerfileProblems(img dockerImage, goVersion string) []string {
	var ps []string
	bad := func(format string, args ...any) { ps = append(ps, fmt.Sprintf(format, args...)) }
	if len(img.stages) < 2 {
		return []string{"want a build stage and a final stage"}
	}
	if from := img.stages[0].from; !strings.HasPrefix(from, "golang:"+goVersion+"-") {
		bad("build stage FROM %s, want golang:%s-<variant> (go.mod's Go)", from, goVersion)
	}
	b, err := img.goBuild()
	if err != nil {
		return append(ps, err.Error())
	}
	if !slices.Contains(b.env, "CGO_ENABLED=0") {
		bad("go build without CGO_ENABLED=0: the binary would need a C library distroless/static lacks")
	}
	ldflags := strings.Fields(argFlag(b.args, "-ldflags"))
	if !slices.Contains(b.args, "-trimpath") || !slices.Contains(ldflags, "-s") || !slices.Contains(ldflags, "-w") {
		bad("go build %v: want -trimpath and -ldflags \"-s -w\"", b.args)
	}
	if b.args[len(b.args)-1] != "./cmd/gatehouse" || b.output == "" {
		bad("go build %v: want -o FILE ./cmd/gatehouse", b.args)
	}
	if !slices.ContainsFunc(b.mounts, func(m string) bool {
		return strings.Contains(m, "type=cache") && strings.Contains(m, "target=/go/pkg/mod")
	}) {
		bad("go build without a cache mount of the module cache")
	}
	final := img.stages[len(img.stages)-1]
	if final.from != imageBase {
		bad("final stage FROM %s, want %s", final.from, imageBase)
	}
	copied := slices.ContainsFunc(final.instrs, func(in dockerInstr) bool {
		return in.cmd == "COPY" && slices.Equal(strings.Fields(in.args), []string{"--from=" + b.stage, b.output, imageBinary})
	})
	if !copied {
		bad("final stage does not COPY --from=%s %s %s", b.stage, b.output, imageBinary)
	}
	if img.user != "65532" && img.user != "65532:65532" && img.user != "nonroot" && img.user != "nonroot:nonroot" {
		bad("USER %q, want nonroot (65532)", img.user)
	}
	if !slices.Equal(img.entrypoint, []string{imageBinary}) {
		bad("ENTRYPOINT %v, want [%s]", img.entrypoint, imageBinary)
	}
	if len(img.cmd) == 0 || img.cmd[0] != "serve" {
		bad("CMD %v, want serve ...", img.cmd)
	}
	return ps
}

func goModVersion(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile(demotest.Path(t, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindSubmatch(data)
	if m == nil {
		t.Fatal("no go directive in go.mod")
	}
	return string(m[1])
}

func TestDockerfile(t *testing.T) {
	data, err := os.ReadFile(demotest.Path(t, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	goVersion := goModVersion(t)
	img, err := parseDockerfile(string(data))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range dockerfileProblems(img, goVersion) {
		t.Error(p)
	}

	t.Run("catches", func(t *testing.T) {
		for name, c := range map[string]struct{ old, new, want string }{
			"old go":          {"golang:1.26-", "golang:1.25-", "go.mod's Go"},
			"cgo":             {"CGO_ENABLED=0 ", "", "CGO_ENABLED=0"},
			"symbols kept":    {`-ldflags="-s -w"`, `-ldflags="-w"`, "-trimpath"},
			"paths kept":      {"-trimpath ", "", "-trimpath"},
			"other package":   {"./cmd/gatehouse\n", "./cmd/authzbench\n", "./cmd/gatehouse"},
			"no cache":        {"--mount=type=cache,target=/go/pkg/mod --mount", "--mount", "cache mount"},
			"shell":           {"./cmd/gatehouse\n", "./cmd/gatehouse && ls\n", "shell syntax"},
			"debian":          {imageBase, "debian:bookworm-slim", "final stage FROM"},
			"elsewhere":       {"COPY --from=build /out/gatehouse /usr/local/bin/gatehouse", "COPY --from=build /out/gatehouse /gatehouse", "does not COPY"},
			"root":            {"USER 65532:65532", "USER root", "USER"},
			"shell form":      {`ENTRYPOINT ["/usr/local/bin/gatehouse"]`, "ENTRYPOINT /usr/local/bin/gatehouse", "JSON form"},
			"other binary":    {`ENTRYPOINT ["/usr/local/bin/gatehouse"]`, `ENTRYPOINT ["/gatehouse"]`, "ENTRYPOINT"},
			"no serve":        {`CMD ["serve",`, `CMD ["probe",`, "CMD"},
			"single stage":    {"FROM " + imageBase, "# FROM", "final stage"},
			"build in final":  {"FROM golang:1.26-bookworm AS build", "FROM golang:1.26-bookworm", "COPY --from="},
			"unclosed quotes": {`-ldflags="-s -w"`, `-ldflags="-s -w`, "unclosed quote"},
		} {
			text := strings.Replace(string(data), c.old, c.new, 1)
			if text == string(data) {
				t.Errorf("%s: %q is not in the Dockerfile", name, c.old)
				continue
			}
			img, err := parseDockerfile(text)
			ps := dockerfileProblems(img, goVersion)
			if err != nil {
				ps = append(ps, err.Error())
			}
			if !slices.ContainsFunc(ps, func(p string) bool { return strings.Contains(p, c.want) }) {
				t.Errorf("%s: no problem mentions %q; got %q", name, c.want, ps)
			}
		}
	})
}

// The Dockerfile's own `go build` command gives a static, stripped binary: what the
// distroless static image needs.
func TestDockerfileBuildsStaticBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds gatehouse (-short)")
	}
	img, err := readDockerfile(demotest.Path(t, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := img.goBuild()
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "gatehouse")
	cmd := exec.Command("go", withArgFlag(b.args, "-o", out)...)
	cmd.Dir = demotest.Root(t)
	cmd.Env = append(os.Environ(), b.env...)
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v %v: %v\n%s", b.env, cmd.Args, err, msg)
	}
	for _, p := range staticBinaryProblems(out) {
		t.Error(p)
	}

	t.Run("catches", func(t *testing.T) {
		// A plain `go build` keeps its symbol table and DWARF.
		ps := staticBinaryProblems(demotest.Gatehouse(t))
		for _, want := range []string{"symbol table", "DWARF"} {
			if !slices.ContainsFunc(ps, func(p string) bool { return strings.Contains(p, want) }) {
				t.Errorf("plain go build: no problem mentions %s; got %q", want, ps)
			}
		}
		if _, err := os.Stat("/bin/sh"); err == nil {
			ps := staticBinaryProblems("/bin/sh")
			if !slices.ContainsFunc(ps, func(p string) bool { return strings.Contains(p, "dynamic") }) {
				t.Errorf("/bin/sh: no problem mentions dynamic linking; got %q", ps)
			}
		}
	})
}

func staticBinaryProblems(path string) []string {
	f, err := elf.Open(path)
	if err != nil {
		return []string{err.Error()}
	}
	defer f.Close()
	var ps []string
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			ps = append(ps, path+": dynamically linked (has a program interpreter)")
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		ps = append(ps, fmt.Sprintf("%s: dynamic libraries %v", path, libs))
	}
	if f.Section(".symtab") != nil {
		ps = append(ps, path+": has a symbol table (want -ldflags -s)")
	}
	if f.Section(".debug_info") != nil || f.Section(".zdebug_info") != nil {
		ps = append(ps, path+": has DWARF (want -ldflags -w)")
	}
	return ps
}

// .dockerignore keeps the big directories out of the build context and everything the
// build needs in it.
func TestDockerignore(t *testing.T) {
	data, err := os.ReadFile(demotest.Path(t, ".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	var patterns []string
	for _, line := range strings.Split(string(data), "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			patterns = append(patterns, line)
		}
	}
	// The files `go build ./cmd/gatehouse` reads from this module.
	cmd := exec.Command("go", "list", "-deps", "-f", `{{if .Module}}{{if .Module.Main}}{{.Dir}}{{range .GoFiles}} {{.}}{{end}}{{end}}{{end}}`, "./cmd/gatehouse")
	cmd.Dir = demotest.Root(t)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	needed := []string{"go.mod", "go.sum"}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		rel, err := filepath.Rel(demotest.Root(t), f[0])
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range f[1:] {
			needed = append(needed, filepath.ToSlash(filepath.Join(rel, name)))
		}
	}
	if len(needed) < 10 {
		t.Fatalf("go list found only %v", needed)
	}
	problems := func(patterns []string) []string {
		var ps []string
		for _, f := range needed {
			if dockerignoreExcludes(patterns, f) {
				ps = append(ps, f+" is left out of the build context")
			}
		}
		for _, f := range []string{".git/HEAD", ".tools/bin/envoy", "policies/policies.test", "gatehouse"} {
			if !dockerignoreExcludes(patterns, f) {
				ps = append(ps, f+" is sent with the build context")
			}
		}
		return ps
	}
	for _, p := range problems(patterns) {
		t.Error(p)
	}

	t.Run("catches", func(t *testing.T) {
		for name, extra := range map[string][]string{
			"sources":      {"**/*.go"},
			"a package":    {"mapping"},
			"go.sum":       {"go.sum"},
			"tools back":   {"!.tools"},
			"all but some": {"*", "!go.mod", "!go.sum", "!cmd"},
		} {
			if len(problems(append(slices.Clone(patterns), extra...))) == 0 {
				t.Errorf("%s %v: no problem found", name, extra)
			}
		}
	})
}

// dockerignoreExcludes reports whether .dockerignore patterns leave the file rel out of
// the build context: the last pattern matching it or a parent directory decides, "!"
// patterns include again, "**" spans directories.
func dockerignoreExcludes(patterns []string, rel string) bool {
	excluded := false
	for _, p := range patterns {
		neg := strings.HasPrefix(p, "!")
		re := globRegexp(filepath.ToSlash(filepath.Clean(strings.TrimPrefix(strings.TrimPrefix(p, "!"), "/"))))
		for q := rel; ; {
			if re.MatchString(q) {
				excluded = !neg
				break
			}
			i := strings.LastIndex(q, "/")
			if i < 0 {
				break
			}
			q = q[:i]
		}
	}
	return excluded
}

func globRegexp(glob string) *regexp.Regexp {
	var b strings.Builder
	b.WriteString("^")
	for i := 0; i < len(glob); i++ {
		switch {
		case strings.HasPrefix(glob[i:], "**/"):
			b.WriteString("(.*/)?")
			i += 2
		case strings.HasPrefix(glob[i:], "**"):
			b.WriteString(".*")
			i++
		case glob[i] == '*':
			b.WriteString("[^/]*")
		case glob[i] == '?':
			b.WriteString("[^/]")
		default:
			b.WriteString(regexp.QuoteMeta(glob[i : i+1]))
		}
	}
	b.WriteString("$")
	return regexp.MustCompile(b.String())
}
