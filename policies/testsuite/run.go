package testsuite

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"reflect"
	"regexp"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/policies"
)

// Runner runs test suites against a policy repository.
type Runner struct {
	// Repo is the repository under test, read with policies.ReadRepository.
	Repo *policies.Repository
	// Config is the base engine configuration (schema enforcement, mainly). Test options
	// set its policy version, scope, scope search, evaluation mode and globals; without
	// strictEvaluation a test evaluates leniently, as Cerbos does.
	Config policies.Config
	// Run, when set, runs only the tests whose name matches; the others are skipped.
	Run *regexp.Regexp
	// Clock is the time for tests without a `now` option (time.Now when nil). A test whose
	// decision reads the clock without a `now` option errors.
	Clock func() time.Time

	sets     map[string]compiled
	fixtures map[string]fixturesOrErr
}

type compiled struct {
	set *policies.Set
	err error
}

type fixturesOrErr struct {
	fx  Fixtures
	err error
}

// suiteExts are the file name endings of test suites.
var suiteExts = []string{"_test.yaml", "_test.yml", "_test.json"}

// IsSuiteFile reports whether a file name is a test suite.
func IsSuiteFile(name string) bool {
	for _, ext := range suiteExts {
		if strings.HasSuffix(name, ext) {
			return true
		}
	}
	return false
}

// Discover lists the suite files of fsys in lexical order, skipping hidden files and
// folders and testdata folders.
func Discover(fsys fs.FS) ([]string, error) {
	var files []string
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == "." {
			return nil
		}
		name := d.Name()
		if d.IsDir() {
			if strings.HasPrefix(name, ".") || name == TestdataDir {
				return fs.SkipDir
			}
			return nil
		}
		if !strings.HasPrefix(name, ".") && IsSuiteFile(name) {
			files = append(files, p)
		}
		return nil
	})
	return files, err
}

// RunFS runs every suite found in fsys. An error is returned only when fsys cannot be
// walked; problems with individual suites are errored suites in the Results.
func (r *Runner) RunFS(fsys fs.FS) (*Results, error) {
	files, err := Discover(fsys)
	if err != nil {
		return nil, fmt.Errorf("finding test suites: %w", err)
	}
	res := &Results{Suites: []*SuiteResult{}}
	var t tally
	worst := Result("")
	for _, f := range files {
		sr := r.RunSuite(fsys, f)
		res.Suites = append(res.Suites, sr)
		t.merge(sr.Summary)
		if sr.Summary.OverallResult.rank() > worst.rank() {
			worst = sr.Summary.OverallResult
		}
	}
	res.Summary = t.summary(worst)
	return res, nil
}

// RunSuite runs the suite file in fsys.
func (r *Runner) RunSuite(fsys fs.FS, file string) *SuiteResult {
	errored := func(sr *SuiteResult, format string, args ...any) *SuiteResult {
		sr.Summary = Summary{OverallResult: ResultErrored}
		sr.Error = fmt.Sprintf(format, args...)
		return sr
	}
	sr := &SuiteResult{File: file, Name: "Unknown"}
	data, err := fs.ReadFile(fsys, file)
	if err != nil {
		return errored(sr, "failed to read test suite: %v", err)
	}
	s, err := ParseSuite(file, data)
	if err != nil {
		return errored(sr, "failed to load test suite:\n%v", err)
	}
	sr.Name, sr.Description = s.Name, s.Description
	if s.Skip {
		sr.Summary = Summary{OverallResult: ResultSkipped}
		sr.SkipReason = s.SkipReason
		return sr
	}
	shared, err := r.loadFixtures(fsys, path.Join(path.Dir(file), TestdataDir))
	if err != nil {
		return errored(sr, "failed to load test fixtures from %s: %v", TestdataDir, err)
	}
	fx := shared.overlay(s.Fixtures)
	tests, err := expandSuite(s, fx)
	if err != nil {
		return errored(sr, "%v", err)
	}
	var t tally
	for i := range tests {
		r.runTest(s, &tests[i], sr, &t)
	}
	sr.Summary = t.summary(ResultSkipped)
	return sr
}

// expandSuite checks test names are unique and expands every table.
func expandSuite(s *Suite, fx Fixtures) ([]Test, error) {
	seen := map[string]bool{}
	for _, t := range s.Tests {
		if seen[t.Name] {
			return nil, fmt.Errorf("Invalid test suite: another test named %s already exists", t.Name)
		}
		seen[t.Name] = true
	}
	var all []Test
	for _, t := range s.Tests {
		tests, err := Expand(t, fx)
		if err != nil {
			return nil, fmt.Errorf("Failed to load the test suite: %w", err)
		}
		all = append(all, tests...)
	}
	return all, nil
}

func (r *Runner) loadFixtures(fsys fs.FS, dir string) (Fixtures, error) {
	if r.fixtures == nil {
		r.fixtures = map[string]fixturesOrErr{}
	}
	if c, ok := r.fixtures[dir]; ok {
		return c.fx, c.err
	}
	fx, err := LoadFixtures(fsys, dir)
	r.fixtures[dir] = fixturesOrErr{fx, err}
	return fx, err
}

// options returns the options a test runs with: its own, else its suite's.
func options(s *Suite, t *Test) *Options {
	switch {
	case t.Options != nil:
		return t.Options
	case s.Options != nil:
		return s.Options
	}
	return &Options{}
}

// set returns the policy set compiled for the options.
func (r *Runner) set(o *Options) (*policies.Set, error) {
	if r.Repo == nil {
		return nil, errors.New("no policy repository")
	}
	cfg := r.Config
	cfg.DefaultPolicyVersion = o.DefaultPolicyVersion
	cfg.DefaultScope = o.DefaultScope
	cfg.LenientScopeSearch = o.LenientScopeSearch
	cfg.LenientEvaluation = !o.StrictEvaluation
	cfg.Globals = o.Globals
	globals, _ := json.Marshal(o.Globals)
	key := fmt.Sprintf("%q|%q|%t|%t|%s", cfg.DefaultPolicyVersion, cfg.DefaultScope, cfg.LenientScopeSearch, cfg.LenientEvaluation, globals)
	if r.sets == nil {
		r.sets = map[string]compiled{}
	}
	if c, ok := r.sets[key]; ok {
		return c.set, c.err
	}
	set, err := policies.Compile(r.Repo, cfg)
	r.sets[key] = compiled{set, err}
	return set, err
}

func (r *Runner) now() time.Time {
	if r.Clock != nil {
		return r.Clock()
	}
	return time.Now()
}

// errNowMissing is the error of a test that read the clock without a `now` option.
const errNowMissing = "a policy used a time-based condition, but `now` was not provided in the test options"

// skipFiltered is the skip reason of a test excluded by Runner.Run.
const skipFiltered = "Test name did not match the provided pattern"

// runTest runs one expanded test and records a result per action.
func (r *Runner) runTest(s *Suite, t *Test, sr *SuiteResult, tl *tally) {
	rr := resourceResult(sr, t.Name)
	record := func(action string, d Details) {
		rr.Actions = append(rr.Actions, &ActionResult{Name: action, Details: d})
		tl.add(d.Result, 1)
	}
	switch {
	case r.Run != nil && !r.Run.MatchString(t.Name.Table):
		for _, a := range t.Actions {
			record(a, Details{Result: ResultSkipped, SkipReason: skipFiltered})
		}
		return
	case t.Skip:
		for _, a := range t.Actions {
			record(a, Details{Result: ResultSkipped, SkipReason: t.SkipReason})
		}
		return
	}
	opts := options(s, t)
	set, err := r.set(opts)
	if err != nil {
		for _, a := range t.Actions {
			record(a, Details{Result: ResultErrored, Error: fmt.Sprintf("compiling the policies with the test's options: %v", err)})
		}
		return
	}
	now := opts.Now
	if !opts.HasNow {
		now = r.now()
	}
	in := policies.Input{RequestID: "test", Principal: t.Principal, Resource: t.Resource, Actions: t.Actions, AuxData: t.AuxData}
	var out policies.Output
	clockRead := set.CheckOneClock(&in, now, &out)
	for _, a := range t.Actions {
		if clockRead && !opts.HasNow {
			record(a, Details{Result: ResultErrored, Error: errNowMissing})
			continue
		}
		record(a, judge(t, a, &out))
	}
}

// resourceResult finds or adds the result node for a test's table, principal and resource.
func resourceResult(sr *SuiteResult, n TestName) *ResourceResult {
	var tc *TestCaseResult
	for _, c := range sr.TestCases {
		if c.Name == n.Table {
			tc = c
		}
	}
	if tc == nil {
		tc = &TestCaseResult{Name: n.Table}
		sr.TestCases = append(sr.TestCases, tc)
	}
	var pr *PrincipalResult
	for _, p := range tc.Principals {
		if p.Name == n.PrincipalKey {
			pr = p
		}
	}
	if pr == nil {
		pr = &PrincipalResult{Name: n.PrincipalKey}
		tc.Principals = append(tc.Principals, pr)
	}
	for _, res := range pr.Resources {
		if res.Name == n.ResourceKey {
			return res
		}
	}
	res := &ResourceResult{Name: n.ResourceKey}
	pr.Resources = append(pr.Resources, res)
	return res
}

// judge compares the decision for one action with the test's expectations.
func judge(t *Test, action string, out *policies.Output) Details {
	want := t.Expected[action]
	got := policies.EffectDeny
	if ar, ok := out.Action(action); ok && ar.Effect == policies.EffectAllow {
		got = policies.EffectAllow
	}
	if got != want {
		return Details{Result: ResultFailed, Failure: &Failure{Expected: want.String(), Actual: got.String()}}
	}
	actual := actionOutputs(out, action)
	if failures := compareOutputs(t.ExpectedOutputs[action], actual); len(failures) > 0 {
		return Details{Result: ResultFailed, Failure: &Failure{Expected: want.String(), Actual: got.String(), Outputs: failures}}
	}
	return Details{Result: ResultPassed, Success: &Success{Effect: got.String(), Outputs: actual}}
}

// actionOutputs lists the outputs the decision produced for an action.
func actionOutputs(out *policies.Output, action string) []OutputEntry {
	var entries []OutputEntry
	for _, o := range out.Outputs {
		if o.Action != action {
			continue
		}
		e := OutputEntry{Src: o.Src, Action: o.Action, Error: o.Error}
		if o.Error == "" {
			e.Val = jsonValue(o.Val)
		}
		entries = append(entries, e)
	}
	return entries
}

// compareOutputs checks every expected output source against the actual outputs.
func compareOutputs(want map[string]any, actual []OutputEntry) []OutputFailure {
	var failures []OutputFailure
	for _, src := range sortedKeys(want) {
		exp := jsonValue(want[src])
		got, found := findOutput(actual, src)
		switch {
		case !found:
			failures = append(failures, OutputFailure{Src: src, Missing: &MissingValue{Expected: exp}})
		case got.Error != "":
			failures = append(failures, OutputFailure{Src: src, Errored: &ErroredValue{Expected: exp, Error: got.Error}})
		case !reflect.DeepEqual(exp, got.Val):
			failures = append(failures, OutputFailure{Src: src, Mismatched: &MismatchedValue{Expected: exp, Actual: got.Val}})
		}
	}
	return failures
}

func findOutput(entries []OutputEntry, src string) (OutputEntry, bool) {
	for _, e := range entries {
		if e.Src == src {
			return e, true
		}
	}
	return OutputEntry{}, false
}

// jsonValue returns v as encoding/json would decode it (numbers as float64), so values
// from YAML and from CEL compare equal when their JSON is equal.
func jsonValue(v any) any {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	var out any
	if err := json.Unmarshal(data, &out); err != nil {
		return fmt.Sprint(v)
	}
	return out
}
