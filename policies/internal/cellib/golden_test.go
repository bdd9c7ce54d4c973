package cellib

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
)

// testdata/cerbos_repl.tsv holds expressions and what the Cerbos 0.55.0 binary
// answered for each in its REPL (`cerbos repl`), one per line:
//
//	expression <TAB> result
//
// where result is "value: <compact JSON>", "error: <message>" or
// "compile error". Values are rendered as the REPL renders them: hierarchies
// as lists of strings, SPIFFE IDs and trust domains as strings, matchers as
// "<...>" and types by name. The REPL prints some empty hierarchies as null,
// so the file avoids expressions whose value is an empty hierarchy. Expressions spell backslashes \x5c because the
// REPL takes a line ending in a backslash for a continuation.
//
// To re-record the file against a Cerbos binary:
//
//	go test ./policies/internal/cellib -run TestCerbosGolden -cerbos=/path/to/cerbos
const goldenFile = "testdata/cerbos_repl.tsv"

var cerbosBinary = flag.String("cerbos", "", "re-record "+goldenFile+" with this Cerbos binary")

func TestCerbosGolden(t *testing.T) {
	cases := readGolden(t)
	if *cerbosBinary != "" {
		cases = recordGolden(t, *cerbosBinary, cases)
	}
	env := newTestEnv(t)
	for i, c := range cases {
		got := render(eval(t, env, c.expr, nil))
		if got != c.result {
			t.Errorf("%s:%d: %s\n got: %s\nwant: %s", goldenFile, i+1, c.expr, got, c.result)
		}
	}
}

type goldenCase struct {
	expr, result string
}

func readGolden(t *testing.T) []goldenCase {
	t.Helper()
	data, err := os.ReadFile(goldenFile)
	if err != nil {
		t.Fatal(err)
	}
	var cases []goldenCase
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		expr, result, ok := strings.Cut(line, "\t")
		if !ok {
			t.Fatalf("%s: malformed line %q", goldenFile, line)
		}
		cases = append(cases, goldenCase{expr: expr, result: result})
	}
	return cases
}

// render gives an evaluation result the textual form of the golden file.
func render(r evalResult) string {
	switch {
	case r.compileErr != "":
		return "compile error"
	case r.evalErr != "":
		return "error: " + strings.TrimSpace(r.evalErr)
	}
	if _, ok := r.val.(spiffeMatcher); ok {
		return "value: <...>" // not JSON, as printed by the REPL
	}
	b, err := json.Marshal(renderValue(r.val))
	if err != nil {
		return fmt.Sprintf("unrenderable %s: %v", r.val.Type().TypeName(), err)
	}
	return "value: " + string(b)
}

func renderValue(v ref.Val) any {
	switch v := v.(type) {
	case Hierarchy:
		return v.segments
	case SPIFFEID:
		return v.String()
	case SPIFFETrustDomain:
		return v.name
	case *types.Type:
		return v.TypeName()
	case types.Null:
		return 0 // the REPL prints null as 0
	case ref.Val:
		native, err := v.ConvertToNative(anyType)
		if err != nil {
			return fmt.Sprintf("<%s>", v.Type().TypeName())
		}
		if list, ok := native.([]any); ok {
			out := make([]any, len(list))
			for i, e := range list {
				if ev, ok := e.(ref.Val); ok {
					out[i] = renderValue(ev)
				} else {
					out[i] = e
				}
			}
			return out
		}
		return native
	}
	return v
}

var anyType = reflect.TypeFor[any]()

var ansiEscape = regexp.MustCompile(`\x1b\[[0-9;]*[A-Za-z]`)

// recordGolden runs every expression through `cerbos repl` and rewrites the
// golden file with the answers.
func recordGolden(t *testing.T, binary string, cases []goldenCase) []goldenCase {
	t.Helper()
	var in strings.Builder
	for _, c := range cases {
		in.WriteString(c.expr + "\n")
	}
	in.WriteString(":q\n")
	cmd := exec.Command(binary, "repl")
	cmd.Stdin = strings.NewReader(in.String())
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	cmd.WaitDelay = 10 * time.Second
	if err := cmd.Run(); err != nil {
		t.Fatalf("running %s repl: %v\n%s", binary, err, out.String())
	}
	answers := strings.Split(ansiEscape.ReplaceAllString(out.String(), ""), "\n-> ")[1:]
	if len(answers) != len(cases)+1 { // the last prompt answers :q
		t.Fatalf("got %d answers from the REPL for %d expressions", len(answers)-1, len(cases))
	}
	var file strings.Builder
	file.WriteString("# Recorded from `cerbos repl`; see golden_test.go.\n")
	for i := range cases {
		cases[i].result = parseREPLAnswer(answers[i])
		fmt.Fprintf(&file, "%s\t%s\n", cases[i].expr, cases[i].result)
	}
	if err := os.WriteFile(goldenFile, []byte(file.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return cases
}

func parseREPLAnswer(answer string) string {
	answer = strings.TrimSpace(answer)
	switch {
	case strings.HasPrefix(answer, "_ = "):
		text := answer[len("_ = "):]
		var v any
		if err := json.Unmarshal([]byte(text), &v); err != nil {
			return "value: " + strings.Join(strings.Fields(text), " ")
		}
		b, _ := json.Marshal(v)
		return "value: " + string(b)
	case strings.HasPrefix(answer, "Error: Failed to process input"):
		_, msg, _ := strings.Cut(answer, "\n")
		return "error: " + strings.TrimSpace(msg)
	case strings.HasPrefix(answer, "ERROR:"):
		return "compile error"
	}
	return "unrecognised answer: " + strings.Join(strings.Fields(answer), " ")
}
