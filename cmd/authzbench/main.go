// Command authzbench measures gatehouse's ext_authz Check path end to end, over loopback
// gRPC, against a no-op ext_authz server measured in the same run.
//
//	go run ./cmd/authzbench run [--duration 5s] [--rounds 3] [--concurrency 1,16,64] [--json]
//
// Both servers run as subprocesses on 127.0.0.1; authzbench is the load generator. For
// each concurrency level it runs one warm-up round per server, then alternates the two
// servers over --rounds measured rounds, and reports throughput, exact p50/p99 latency,
// server CPU per check (from /proc/PID/stat) and server resident memory, with the ratios
// of gatehouse to the no-op checked against the performance targets. See README.md.
//
// The hidden subcommand `authzbench noop --addr 127.0.0.1:0` is the no-op server.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

// Exit codes.
const (
	exitOK      = 0
	exitFailure = 1 // the run failed, or --strict and a target was missed
	exitUsage   = 2 // bad flags or arguments
)

// usageError marks errors in flags and arguments.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// errTargetsMissed is returned by `run --strict` when a target fails.
var errTargetsMissed = errors.New("performance targets missed")

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run executes the command line and maps errors to exit codes.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := newRootCommand(stdout, stderr)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	var ue usageError
	switch {
	case err == nil:
		return exitOK
	case ctx.Err() != nil:
		fmt.Fprintln(stderr, "authzbench: interrupted")
		return exitFailure
	case errors.As(err, &ue):
		fmt.Fprintln(stderr, "authzbench:", ue.err)
		return exitUsage
	default:
		fmt.Fprintln(stderr, "authzbench:", err)
		return exitFailure
	}
}

func newRootCommand(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:           "authzbench",
		Short:         "Benchmark gatehouse's ext_authz Check against a no-op ext_authz server",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(newRunCommand(), newNoopCommand())
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
