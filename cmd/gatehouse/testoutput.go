package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/gatehouse/gatehouse/policies/testsuite"
)

// resultRenderers print policy test results in each --output format of gatehouse compile.
var resultRenderers = map[string]func(io.Writer, *testsuite.Results) error{
	"tree":  renderTree,
	"list":  renderList,
	"json":  renderJSON,
	"junit": renderJUnit,
}

// resultWord is a result in lower case without its prefix: "passed", "failed", ...
func resultWord(r testsuite.Result) string {
	return strings.ToLower(strings.TrimPrefix(string(r), "RESULT_"))
}

// countsText renders a summary's counts: "3 passed, 1 failed".
func countsText(s testsuite.Summary) string {
	parts := make([]string, 0, len(s.ResultCounts))
	for _, c := range s.ResultCounts {
		parts = append(parts, fmt.Sprintf("%d %s", c.Count, resultWord(c.Result)))
	}
	return strings.Join(parts, ", ")
}

// testLeaf is one test of a suite: its path in the tree and its details.
type testLeaf struct {
	table, principal, resource, action string
	details                            testsuite.Details
}

// leaves flattens a suite's results in order.
func leaves(s *testsuite.SuiteResult) []testLeaf {
	var out []testLeaf
	for _, tc := range s.TestCases {
		for _, p := range tc.Principals {
			for _, r := range p.Resources {
				for _, a := range r.Actions {
					out = append(out, testLeaf{tc.Name, p.Name, r.Name, a.Name, a.Details})
				}
			}
		}
	}
	return out
}

// detailLines explains a test that did not pass.
func detailLines(d testsuite.Details) []string {
	switch d.Result {
	case testsuite.ResultErrored:
		return []string{"error: " + d.Error}
	case testsuite.ResultSkipped:
		if d.SkipReason != "" {
			return []string{"skipped: " + d.SkipReason}
		}
	case testsuite.ResultFailed:
		if d.Failure == nil {
			return nil
		}
		var out []string
		if d.Failure.Expected != d.Failure.Actual {
			out = append(out, fmt.Sprintf("expected %s, got %s", d.Failure.Expected, d.Failure.Actual))
		}
		for _, o := range d.Failure.Outputs {
			out = append(out, outputFailureText(o))
		}
		return out
	}
	return nil
}

func outputFailureText(o testsuite.OutputFailure) string {
	switch {
	case o.Missing != nil:
		return fmt.Sprintf("output %s: expected %s, but the rule produced no output", o.Src, compact(o.Missing.Expected))
	case o.Mismatched != nil:
		return fmt.Sprintf("output %s: expected %s, got %s", o.Src, compact(o.Mismatched.Expected), compact(o.Mismatched.Actual))
	case o.Errored != nil:
		return fmt.Sprintf("output %s: expected %s, but evaluating it failed: %s", o.Src, compact(o.Errored.Expected), o.Errored.Error)
	}
	return "output " + o.Src
}

func compact(v any) string {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(data)
}

// renderTree prints one line per suite and, under suites that did not pass, the tests
// that failed, errored or were skipped, nested by test, principal and resource.
func renderTree(w io.Writer, res *testsuite.Results) error {
	if len(res.Suites) == 0 {
		_, err := fmt.Fprintln(w, "No test suites found")
		return err
	}
	for _, s := range res.Suites {
		fmt.Fprintf(w, "%s  %s  %s", strings.ToUpper(resultWord(s.Summary.OverallResult)), s.File, s.Name)
		if c := countsText(s.Summary); c != "" {
			fmt.Fprintf(w, "  (%s)", c)
		}
		fmt.Fprintln(w)
		if s.Error != "" {
			writeIndented(w, "    ", s.Error)
		}
		if s.SkipReason != "" {
			writeIndented(w, "    ", "skipped: "+s.SkipReason)
		}
		writeTreeLeaves(w, leaves(s))
	}
	return writeSummary(w, res)
}

// writeTreeLeaves prints the tests that did not pass, repeating a level only when it changes.
func writeTreeLeaves(w io.Writer, all []testLeaf) {
	var last testLeaf
	for _, l := range all {
		if l.details.Result == testsuite.ResultPassed {
			continue
		}
		if l.table != last.table {
			fmt.Fprintf(w, "    %s\n", l.table)
			last = testLeaf{table: l.table}
		}
		if l.principal != last.principal {
			fmt.Fprintf(w, "      principal %s\n", l.principal)
			last.principal, last.resource = l.principal, ""
		}
		if l.resource != last.resource {
			fmt.Fprintf(w, "        resource %s\n", l.resource)
			last.resource = l.resource
		}
		fmt.Fprintf(w, "          %s  %s\n", l.action, strings.ToUpper(resultWord(l.details.Result)))
		for _, line := range detailLines(l.details) {
			writeIndented(w, "            ", line)
		}
	}
}

func writeIndented(w io.Writer, indent, text string) {
	for _, line := range strings.Split(text, "\n") {
		fmt.Fprintf(w, "%s%s\n", indent, line)
	}
}

func writeSummary(w io.Writer, res *testsuite.Results) error {
	_, err := fmt.Fprintf(w, "\n%s: %d suites, %d tests", strings.ToUpper(resultWord(res.Summary.OverallResult)), len(res.Suites), res.Summary.TestsCount)
	if c := countsText(res.Summary); c != "" {
		_, err = fmt.Fprintf(w, " (%s)", c)
	}
	fmt.Fprintln(w)
	return err
}

// renderList prints one line per test (and per suite that could not run), with details
// under the lines of tests that did not pass.
func renderList(w io.Writer, res *testsuite.Results) error {
	for _, s := range res.Suites {
		if s.Error != "" || len(s.TestCases) == 0 {
			fmt.Fprintf(w, "%-8s %s [%s]\n", strings.ToUpper(resultWord(s.Summary.OverallResult)), s.File, s.Name)
			if s.Error != "" {
				writeIndented(w, "         ", s.Error)
			}
			continue
		}
		for _, l := range leaves(s) {
			fmt.Fprintf(w, "%-8s %s [%s] %s / %s / %s / %s\n", strings.ToUpper(resultWord(l.details.Result)), s.File, s.Name, l.table, l.principal, l.resource, l.action)
			for _, line := range detailLines(l.details) {
				writeIndented(w, "         ", line)
			}
		}
	}
	return writeSummary(w, res)
}

// renderJSON prints the results in the structure of cerbos compile -o json.
func renderJSON(w io.Writer, res *testsuite.Results) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(res)
}
