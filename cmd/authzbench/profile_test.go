package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"runtime/pprof"

	"github.com/gatehouse/gatehouse/extauthz"
)

// CPU profiles of the servers under authzbench's load. Build the test binary, which
// stands in for both servers (see TestMain), and run it as authzbench:
//
//	go test -c -o /tmp/authzbench-prof ./cmd/authzbench
//	AUTHZBENCH_CPUPROFILE=/tmp/gatehouse.cpu AUTHZBENCH_NOOP_CPUPROFILE=/tmp/noop.cpu \
//	  /tmp/authzbench-prof run --gatehouse /tmp/authzbench-prof --concurrency 64
//	go tool pprof -top /tmp/authzbench-prof /tmp/gatehouse.cpu
//
// As --gatehouse, the test binary's `serve --config FILE` serves the same
// extauthz.Service as `gatehouse serve` (without its logger), profiled.
const (
	serveProfileEnv = "AUTHZBENCH_CPUPROFILE"
	noopProfileEnv  = "AUTHZBENCH_NOOP_CPUPROFILE"
)

// profiledServe stands in for `gatehouse serve --config FILE` until ctx ends.
func profiledServe(ctx context.Context, args []string) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	config := fs.String("config", "", "gatehouse configuration")
	if err := fs.Parse(args); err != nil || *config == "" {
		fmt.Fprintln(os.Stderr, "usage: serve --config FILE")
		return exitUsage
	}
	return withCPUProfile(os.Getenv(serveProfileEnv), func() int {
		if err := serveGatehouse(ctx, *config); err != nil {
			fmt.Fprintln(os.Stderr, "serve:", err)
			return exitFailure
		}
		return exitOK
	})
}

// serveGatehouse is what `gatehouse serve --config` does.
func serveGatehouse(ctx context.Context, config string) error {
	cfg, err := extauthz.LoadConfig(config)
	if err != nil {
		return err
	}
	svc, err := extauthz.New(ctx, cfg, nil)
	if err != nil {
		return err
	}
	return svc.Run(ctx)
}

// withCPUProfile runs f with a CPU profile written to file, or just runs it when file
// is empty.
func withCPUProfile(file string, f func() int) int {
	if file == "" {
		return f()
	}
	out, err := os.Create(file)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return exitFailure
	}
	defer out.Close()
	if err := pprof.StartCPUProfile(out); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return exitFailure
	}
	defer pprof.StopCPUProfile()
	return f()
}
