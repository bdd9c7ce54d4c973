// Command gatehouse is an Envoy external-authorization service that decides with Cerbos
// policies. Subcommands: serve (the ext_authz service), probe and health (ask a running
// one), check (decide CheckResources requests offline), compile (validate a policy
// repository and run its test suites), lint-envoy (risky ext_authz settings in Envoy and
// Istio configurations), mint-token (demo tokens) and version.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/gatehouse/gatehouse/policies"
)

// Exit codes.
const (
	exitOK       = 0
	exitFailure  = 1 // a request line or a check failed
	exitUsage    = 2 // bad flags or arguments
	exitPolicies = 3 // the configuration or the policy repository does not load
	exitTests    = 4 // policy test suites failed or errored (gatehouse compile)
)

// usageError marks errors in flags and arguments.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// failedError means the command ran and reported its failures itself.
type failedError struct{ msg string }

func (e failedError) Error() string { return e.msg }

// testsFailedError means policy test suites ran and some failed or errored; the results
// have been printed.
type testsFailedError struct{ msg string }

func (e testsFailedError) Error() string { return e.msg }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run executes the command line and maps errors to exit codes.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	root := newRootCommand(stdin, stdout, stderr)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	var problems policies.ProblemList
	var fe failedError
	var ue usageError
	var ce configError
	var te testsFailedError
	switch {
	case errors.As(err, &te):
		fmt.Fprintln(stderr, "gatehouse:", te.msg)
		return exitTests
	case errors.As(err, &ce) && !errors.As(err, &problems):
		fmt.Fprintln(stderr, ce.err)
		fmt.Fprintln(stderr, "gatehouse: the configuration does not load")
		return exitPolicies
	case errors.As(err, &problems):
		for _, p := range problems {
			fmt.Fprintln(stderr, p)
		}
		fmt.Fprintf(stderr, "gatehouse: %d problem(s) in the policy repository\n", len(problems))
		return exitPolicies
	case errors.As(err, &fe):
		fmt.Fprintln(stderr, "gatehouse:", fe.msg)
		return exitFailure
	case errors.As(err, &ue):
		fmt.Fprintln(stderr, "gatehouse:", ue.err)
		return exitUsage
	case strings.HasPrefix(err.Error(), "unknown command"):
		fmt.Fprintln(stderr, "gatehouse:", err)
		return exitUsage
	default:
		fmt.Fprintln(stderr, "gatehouse:", err)
		return exitFailure
	}
}

func newRootCommand(stdin io.Reader, stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:           "gatehouse",
		Short:         "Envoy external authorization with Cerbos policies",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(newServeCommand(), newCheckCommand(), newCompileCommand(), newMintTokenCommand(), newProbeCommand(), newHealthCommand(), newLintEnvoyCommand(), newVersionCommand())
	return root
}

// usageArgs marks the errors of a positional-argument validator as usage errors.
func usageArgs(check cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := check(cmd, args); err != nil {
			return usageError{err}
		}
		return nil
	}
}
