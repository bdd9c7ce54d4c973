package testsuite

// Result is the outcome of a test, a suite or a run, named as in Cerbos's TestResults.
type Result string

// Results, from least to most severe.
const (
	ResultSkipped Result = "RESULT_SKIPPED"
	ResultPassed  Result = "RESULT_PASSED"
	ResultFailed  Result = "RESULT_FAILED"
	ResultErrored Result = "RESULT_ERRORED"
)

var resultOrder = []Result{ResultSkipped, ResultPassed, ResultFailed, ResultErrored}

func (r Result) rank() int {
	for i, o := range resultOrder {
		if o == r {
			return i + 1
		}
	}
	return 0
}

// Results are the results of every suite of a run. The JSON form matches Cerbos's
// TestResults, as `cerbos compile -o json` prints it.
type Results struct {
	Suites  []*SuiteResult `json:"suites"`
	Summary Summary        `json:"summary"`
}

// SuiteResult is the result of one suite file.
type SuiteResult struct {
	File        string            `json:"file"`
	Name        string            `json:"name"`
	Summary     Summary           `json:"summary"`
	TestCases   []*TestCaseResult `json:"testCases,omitempty"`
	Description string            `json:"description,omitempty"`
	SkipReason  string            `json:"skipReason,omitempty"`
	// Error says why the suite could not be run.
	Error string `json:"error,omitempty"`
}

// Summary counts the results of the tests (principal × resource × action) below it.
type Summary struct {
	OverallResult Result  `json:"overallResult"`
	TestsCount    int     `json:"testsCount,omitempty"`
	ResultCounts  []Tally `json:"resultCounts,omitempty"`
}

// Tally is the number of tests with one result.
type Tally struct {
	Result Result `json:"result"`
	Count  int    `json:"count"`
}

// TestCaseResult holds the results of one table, by principal.
type TestCaseResult struct {
	Name       string             `json:"name"`
	Principals []*PrincipalResult `json:"principals"`
}

// PrincipalResult holds the results of one principal, by resource.
type PrincipalResult struct {
	Name      string            `json:"name"`
	Resources []*ResourceResult `json:"resources"`
}

// ResourceResult holds the results of one resource, by action.
type ResourceResult struct {
	Name    string          `json:"name"`
	Actions []*ActionResult `json:"actions"`
}

// ActionResult is the result of one test.
type ActionResult struct {
	Name    string  `json:"name"`
	Details Details `json:"details"`
}

// Details say how a test ended: Success, Failure, Error or SkipReason goes with Result.
type Details struct {
	Result     Result   `json:"result"`
	Success    *Success `json:"success,omitempty"`
	Failure    *Failure `json:"failure,omitempty"`
	Error      string   `json:"error,omitempty"`
	SkipReason string   `json:"skipReason,omitempty"`
}

// Success is a passed test: the effect and the outputs the action produced.
type Success struct {
	Effect  string        `json:"effect"`
	Outputs []OutputEntry `json:"outputs,omitempty"`
}

// OutputEntry is one output of a rule.
type OutputEntry struct {
	Src    string `json:"src"`
	Val    any    `json:"val,omitempty"`
	Action string `json:"action"`
	Error  string `json:"error,omitempty"`
}

// Failure is a failed test: the effects, and the outputs that did not match when the
// effects did.
type Failure struct {
	Expected string          `json:"expected"`
	Actual   string          `json:"actual"`
	Outputs  []OutputFailure `json:"outputs,omitempty"`
}

// OutputFailure is an expected output that was missing, different or failed.
type OutputFailure struct {
	Src        string           `json:"src"`
	Missing    *MissingValue    `json:"missing,omitempty"`
	Mismatched *MismatchedValue `json:"mismatched,omitempty"`
	Errored    *ErroredValue    `json:"errored,omitempty"`
}

// MissingValue is an expected output the action did not produce.
type MissingValue struct {
	Expected any `json:"expected"`
}

// MismatchedValue is an output whose value differs from the expected one.
type MismatchedValue struct {
	Expected any `json:"expected"`
	Actual   any `json:"actual"`
}

// ErroredValue is an expected output whose expression failed.
type ErroredValue struct {
	Expected any    `json:"expected"`
	Error    string `json:"error"`
}

// tally accumulates test results into a Summary.
type tally struct {
	counts map[Result]int
	total  int
}

func (t *tally) add(r Result, n int) {
	if t.counts == nil {
		t.counts = map[Result]int{}
	}
	t.counts[r] += n
	t.total += n
}

func (t *tally) merge(s Summary) {
	for _, c := range s.ResultCounts {
		t.add(c.Result, c.Count)
	}
}

// summary returns the counts in result order; overall is the most severe of the results
// counted and of floor.
func (t *tally) summary(floor Result) Summary {
	s := Summary{OverallResult: floor, TestsCount: t.total}
	for _, r := range resultOrder {
		if n := t.counts[r]; n > 0 {
			s.ResultCounts = append(s.ResultCounts, Tally{Result: r, Count: n})
			if r.rank() > s.OverallResult.rank() {
				s.OverallResult = r
			}
		}
	}
	return s
}

// Failed reports whether any suite failed or errored.
func (r *Results) Failed() bool {
	return r.Summary.OverallResult == ResultFailed || r.Summary.OverallResult == ResultErrored
}
