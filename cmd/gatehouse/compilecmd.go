package main

import (
	"fmt"
	"io"
	"os"
	"regexp"

	"github.com/spf13/cobra"

	"github.com/gatehouse/gatehouse/policies"
	"github.com/gatehouse/gatehouse/policies/testsuite"
)

// compileFlags are the options of gatehouse compile.
type compileFlags struct {
	tests         string
	run           string
	skipTests     bool
	ignoreSchemas bool
	output        string
}

const compileLong = `Compile a policy repository laid out like a Cerbos disk store, then run its policy
test suites (*_test.yaml, *_test.yml, *_test.json, with fixtures in testdata/ folders),
as cerbos compile does.

Every problem of the repository is printed as file:line:column: message. Test results
are printed as a tree (default, failures in detail), a list (one line per test), JSON
(the structure of cerbos compile -o json) or JUnit XML (for CI systems).

Exit codes:
  0  the repository compiles and every test passed (or was skipped)
  2  bad flags or arguments
  3  the repository does not compile (tests are not run)
  4  a test failed or errored, or a suite could not be run`

func newCompileCommand() *cobra.Command {
	var f compileFlags
	cmd := &cobra.Command{
		Use:   "compile DIR",
		Short: "Validate a policy repository and run its policy test suites",
		Long:  compileLong,
		Example: `  gatehouse compile policies
  gatehouse compile --tests tests --run 'leave request' policies
  gatehouse compile -o junit policies > report.xml`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runCompile(cmd.OutOrStdout(), cmd.ErrOrStderr(), args[0], f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.tests, "tests", "", "directory of the test suites (default: the policy directory)")
	fl.StringVar(&f.run, "run", "", "run only the tests whose name matches this regular expression; skip the others")
	fl.BoolVar(&f.skipTests, "skip-tests", false, "compile only; do not run test suites")
	fl.BoolVar(&f.ignoreSchemas, "ignore-schemas", false, "ignore the policies' attribute schemas (missing or invalid schema files are not errors)")
	fl.StringVarP(&f.output, "output", "o", "tree", "test results format: tree, list, json or junit")
	return cmd
}

// runCompile compiles dir and runs its suites, printing results in the chosen format.
func runCompile(stdout, stderr io.Writer, dir string, f compileFlags) error {
	render, ok := resultRenderers[f.output]
	if !ok {
		return usageError{fmt.Errorf("invalid --output %q: want tree, list, json or junit", f.output)}
	}
	var run *regexp.Regexp
	if f.run != "" {
		re, err := regexp.Compile(f.run)
		if err != nil {
			return usageError{fmt.Errorf("invalid --run: %v", err)}
		}
		run = re
	}
	repo, set, err := compileRepository(dir, f.ignoreSchemas)
	if err != nil {
		return err
	}
	status := stdout
	if f.output == "json" || f.output == "junit" {
		status = stderr
	}
	fmt.Fprintf(status, "%s: %d policies compiled\n", dir, set.PolicyCount())
	if f.skipTests {
		return nil
	}
	testsDir := dir
	if f.tests != "" {
		testsDir = f.tests
	}
	if info, err := os.Stat(testsDir); err != nil || !info.IsDir() {
		return usageError{fmt.Errorf("tests directory %s: not a readable directory", testsDir)}
	}
	runner := &testsuite.Runner{Repo: repo, Config: set.Config(), Run: run}
	res, err := runner.RunFS(os.DirFS(testsDir))
	if err != nil {
		return err
	}
	if err := render(stdout, res); err != nil {
		return err
	}
	if res.Failed() {
		return testsFailedError{fmt.Sprintf("policy tests %s", resultWord(res.Summary.OverallResult))}
	}
	return nil
}

// compileRepository reads and compiles dir, every problem reported at once. With
// ignoreSchemas the policies' schema references are not loaded or checked.
func compileRepository(dir string, ignoreSchemas bool) (*policies.Repository, *policies.Set, error) {
	// The suites compile the repository again with their own options.
	return policies.LoadDirRepository(dir, policies.Config{IgnoreSchemas: ignoreSchemas})
}
