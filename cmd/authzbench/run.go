package main

import (
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

func newRunCommand() *cobra.Command {
	o := options{}
	var conc string
	var jsonOut, strict bool
	cmd := &cobra.Command{
		Use:   "run [--gatehouse BIN] [--config FILE] [--duration 5s] [--rounds 3] [--concurrency 1,16,64] [--json]",
		Short: "Measure gatehouse and a no-op ext_authz server, alternately, at several concurrencies",
		Long: `run starts a no-op ext_authz server and gatehouse on free 127.0.0.1 ports, waits until
both are SERVING, and at each concurrency runs a warm-up round per server, then --rounds
rounds per server, alternating the servers. Every round ends after --duration or
--requests checks, whichever comes first. It prints throughput, p50/p99 latency, server
CPU per check and server memory, and judges gatehouse ÷ no-op against the targets. Every
gatehouse answer must be an allow: anything else stops the run.

The exit status is 0 even when targets are missed (this is a measurement tool), unless
--strict is given. Run it from the gatehouse repository (the defaults are found there).`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			var err error
			if o.concurrency, err = parseConcurrency(conc); err != nil {
				return usageError{fmt.Errorf("--concurrency: %w", err)}
			}
			if err := o.validate(); err != nil {
				return usageError{err}
			}
			rep, err := benchmark(cmd.Context(), o, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			if jsonOut {
				err = rep.writeJSON(cmd.OutOrStdout())
			} else {
				err = rep.writeText(cmd.OutOrStdout())
			}
			if err == nil && strict && !rep.Pass {
				err = errTargetsMissed
			}
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.gatehouse, "gatehouse", "", "gatehouse binary (default: go build ./cmd/gatehouse into a temporary directory)")
	f.StringVar(&o.config, "config", "", "gatehouse configuration (default: "+demoConfig+" of the repository)")
	f.StringVar(&o.token, "token", "", "bearer token file for --request alice (default: "+demoToken+" of the repository)")
	f.StringVar(&o.request, "request", requestAlice, "benchmark CheckRequest: alice (JWT, PUT her document) or anonymous (GET a published document)")
	f.DurationVar(&o.duration, "duration", 5*time.Second, "bound of each measured round")
	f.DurationVar(&o.warmup, "warmup", time.Second, "bound of the warm-up round per server and level")
	f.IntVar(&o.requests, "requests", 200_000, "bound of each round in checks (also sizes the latency buffer)")
	f.StringVar(&conc, "concurrency", "1,16,64", "comma-separated numbers of concurrent clients")
	f.IntVar(&o.rounds, "rounds", 3, "measured rounds per server and level")
	f.IntVar(&o.conns, "conns", 0, "client connections per server, workers spread over them (default: one per CPU, as Envoy has one per worker thread)")
	f.DurationVar(&o.timeout, "timeout", 200*time.Millisecond, "deadline of each Check (Envoy's ext_authz default); a check that misses it stops the run")
	f.BoolVar(&jsonOut, "json", false, "print the results as JSON")
	f.BoolVar(&strict, "strict", false, "exit with status 1 when a target is missed")
	return cmd
}

// parseConcurrency parses "1,16,64".
func parseConcurrency(s string) ([]int, error) {
	var out []int
	for part := range strings.SplitSeq(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(part))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("%q: want positive integers separated by commas", s)
		}
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out, nil
}

// Upper bounds that keep a mistyped flag from running for hours or exhausting memory.
const (
	maxDuration    = 10 * time.Minute
	maxRequests    = 10_000_000
	maxSamples     = 20_000_000 // --requests × --rounds: latencies kept per server and level
	maxConcurrency = 4096
	maxRounds      = 100
	maxConns       = 256
)

// validate checks the bounds of the settings.
func (o *options) validate() error {
	var errs []error
	if o.duration <= 0 || o.duration > maxDuration {
		errs = append(errs, fmt.Errorf("--duration %v: want more than 0 and at most %v", o.duration, maxDuration))
	}
	if o.warmup <= 0 || o.warmup > maxDuration {
		errs = append(errs, fmt.Errorf("--warmup %v: want more than 0 and at most %v", o.warmup, maxDuration))
	}
	if o.requests < 1 || o.requests > maxRequests {
		errs = append(errs, fmt.Errorf("--requests %d: want 1 to %d", o.requests, maxRequests))
	}
	if o.timeout <= 0 || o.timeout > time.Minute {
		errs = append(errs, fmt.Errorf("--timeout %v: want more than 0 and at most 1m", o.timeout))
	}
	if o.rounds < 1 || o.rounds > maxRounds {
		errs = append(errs, fmt.Errorf("--rounds %d: want 1 to %d", o.rounds, maxRounds))
	}
	if o.requests*o.rounds > maxSamples {
		errs = append(errs, fmt.Errorf("--requests × --rounds: at most %d latency samples", maxSamples))
	}
	if o.conns == 0 {
		o.conns = runtime.NumCPU()
	}
	if o.conns < 1 || o.conns > maxConns {
		errs = append(errs, fmt.Errorf("--conns %d: want 1 to %d", o.conns, maxConns))
	}
	if slices.Max(o.concurrency) > maxConcurrency {
		errs = append(errs, fmt.Errorf("--concurrency: at most %d", maxConcurrency))
	}
	if o.request != requestAlice && o.request != requestAnonymous {
		errs = append(errs, fmt.Errorf("--request %q: want %s or %s", o.request, requestAlice, requestAnonymous))
	}
	return errors.Join(errs...)
}
