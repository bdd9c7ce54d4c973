package main

import (
	"encoding/xml"
	"io"
	"strings"

	"github.com/gatehouse/gatehouse/policies/testsuite"
)

// JUnit XML, as CI systems (Jenkins, GitLab, GitHub test reporters) read it: one
// <testsuite> per suite file, one <testcase> per test (table / principal / resource /
// action); a suite that could not run is one errored <testcase>.
type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Skipped  int          `xml:"skipped,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name     string      `xml:"name,attr"`
	File     string      `xml:"file,attr"`
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Errors   int         `xml:"errors,attr"`
	Skipped  int         `xml:"skipped,attr"`
	Cases    []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	ClassName string        `xml:"classname,attr"`
	File      string        `xml:"file,attr"`
	Failure   *junitProblem `xml:"failure,omitempty"`
	Error     *junitProblem `xml:"error,omitempty"`
	Skipped   *junitProblem `xml:"skipped,omitempty"`
}

type junitProblem struct {
	Message string `xml:"message,attr,omitempty"`
	Text    string `xml:",chardata"`
}

// renderJUnit prints the results as JUnit XML.
func renderJUnit(w io.Writer, res *testsuite.Results) error {
	doc := junitSuites{Name: "gatehouse policy tests"}
	for _, s := range res.Suites {
		js := junitSuiteOf(s)
		doc.Tests += js.Tests
		doc.Failures += js.Failures
		doc.Errors += js.Errors
		doc.Skipped += js.Skipped
		doc.Suites = append(doc.Suites, js)
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}

func junitSuiteOf(s *testsuite.SuiteResult) junitSuite {
	js := junitSuite{Name: s.Name, File: s.File}
	add := func(c junitCase) {
		js.Tests++
		switch {
		case c.Failure != nil:
			js.Failures++
		case c.Error != nil:
			js.Errors++
		case c.Skipped != nil:
			js.Skipped++
		}
		js.Cases = append(js.Cases, c)
	}
	switch {
	case s.Error != "":
		add(junitCase{Name: "load " + s.File, ClassName: s.Name, File: s.File, Error: &junitProblem{Message: firstLine(s.Error), Text: s.Error}})
	case s.Summary.OverallResult == testsuite.ResultSkipped && len(s.TestCases) == 0:
		add(junitCase{Name: s.Name, ClassName: s.Name, File: s.File, Skipped: &junitProblem{Message: s.SkipReason}})
	}
	for _, l := range leaves(s) {
		c := junitCase{Name: strings.Join([]string{l.table, l.principal, l.resource, l.action}, " / "), ClassName: s.Name, File: s.File}
		text := strings.Join(detailLines(l.details), "\n")
		switch l.details.Result {
		case testsuite.ResultFailed:
			c.Failure = &junitProblem{Message: firstLine(text), Text: text}
		case testsuite.ResultErrored:
			c.Error = &junitProblem{Message: firstLine(l.details.Error), Text: l.details.Error}
		case testsuite.ResultSkipped:
			c.Skipped = &junitProblem{Message: l.details.SkipReason}
		}
		add(c)
	}
	return js
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
