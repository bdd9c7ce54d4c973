package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
)

// options are the settings of `authzbench run`.
type options struct {
	gatehouse   string        // gatehouse binary; built from the repository when empty
	config      string        // gatehouse configuration; the demo's when empty
	token       string        // bearer token file of --request alice
	request     string        // requestAlice or requestAnonymous
	duration    time.Duration // bound of a measured round
	warmup      time.Duration // bound of the warm-up round
	requests    int           // bound (checks) of every round
	concurrency []int
	rounds      int
	conns       int           // client connections per server
	timeout     time.Duration // deadline of each Check
}

// Defaults relative to the repository root.
const (
	demoConfig = "envoy/demo/gatehouse.yaml"
	demoToken  = "envoy/demo/tokens/alice.jwt"
)

// benchmark starts both servers, measures every concurrency level and returns the
// report. Progress goes to log. The servers are stopped before it returns.
func benchmark(ctx context.Context, o options, log io.Writer) (rep *report, err error) {
	tmp, err := os.MkdirTemp("", "authzbench-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	if err := o.resolve(ctx, tmp, log); err != nil {
		return nil, err
	}
	token := ""
	if o.request == requestAlice {
		if token, err = readToken(o.token); err != nil {
			return nil, err
		}
	}
	req, err := newCheckRequest(o.request, token)
	if err != nil {
		return nil, usageError{err}
	}

	fmt.Fprintln(log, "starting the no-op server and gatehouse")
	noopProc, noopAddr, err := startNoop(ctx)
	if err != nil {
		return nil, err
	}
	defer noopProc.stop()
	ghProc, ghAddr, err := startGatehouse(ctx, o.gatehouse, o.config, tmp)
	if err != nil {
		return nil, err
	}
	defer ghProc.stop()

	noop, err := newTarget("no-op", noopProc, noopAddr, o.conns)
	if err != nil {
		return nil, err
	}
	defer noop.close()
	gh, err := newTarget("gatehouse", ghProc, ghAddr, o.conns)
	if err != nil {
		return nil, err
	}
	defer gh.close()

	rep = &report{
		Request:     o.request,
		Duration:    o.duration.String(),
		Warmup:      o.warmup.String(),
		MaxChecks:   o.requests,
		Rounds:      o.rounds,
		Connections: o.conns,
		Timeout:     o.timeout.String(),
		CPUs:        runtime.NumCPU(),
	}
	buf := make([]time.Duration, o.requests)
	for _, c := range o.concurrency {
		lvl, err := measureLevel(ctx, [2]*target{noop, gh}, req, c, o, buf, log)
		if err != nil {
			return nil, err
		}
		rep.Levels = append(rep.Levels, lvl)
	}
	rep.evaluate()
	return rep, nil
}

// resolve fills in the repository defaults and builds gatehouse into tmp if needed.
func (o *options) resolve(ctx context.Context, tmp string, log io.Writer) error {
	var root string
	needRoot := o.gatehouse == "" || o.config == "" || (o.request == requestAlice && o.token == "")
	if needRoot {
		var err error
		if root, err = repoRoot(); err != nil {
			return err
		}
	}
	if o.config == "" {
		o.config = filepath.Join(root, demoConfig)
	}
	if o.token == "" && o.request == requestAlice {
		o.token = filepath.Join(root, demoToken)
	}
	if o.gatehouse == "" {
		fmt.Fprintln(log, "building gatehouse")
		bin, err := buildGatehouse(ctx, root, tmp)
		if err != nil {
			return err
		}
		o.gatehouse = bin
	}
	return nil
}

// measureLevel runs one warm-up round per server, then o.rounds measured rounds per
// server, alternating which server goes first (no-op first in odd rounds, gatehouse
// first in even ones: A B, B A, A B, ...) so that a drift of the machine's speed over
// the run weighs on both alike.
func measureLevel(ctx context.Context, ts [2]*target, req *authv3.CheckRequest, c int, o options, buf []time.Duration, log io.Writer) (levelResult, error) {
	lvl := levelResult{Concurrency: c, Connections: min(c, o.conns)}
	warm := round{concurrency: c, duration: o.warmup, maxChecks: o.requests, timeout: o.timeout}
	for _, t := range ts {
		if _, err := runRound(ctx, t, req, warm, buf); err != nil {
			return lvl, err
		}
	}
	var samples [2][]time.Duration
	var results [2][]roundResult
	measured := round{concurrency: c, duration: o.duration, maxChecks: o.requests, timeout: o.timeout}
	for r := range o.rounds {
		order := []int{0, 1}
		if r%2 == 1 {
			order = []int{1, 0}
		}
		for _, i := range order {
			res, err := runRound(ctx, ts[i], req, measured, buf)
			if err != nil {
				return lvl, err
			}
			res.p99 = percentile(sortedCopy(res.latencies), 0.99)
			fmt.Fprintf(log, "c=%d round %d/%d %-9s %8.0f checks/s  p99 %v\n", c, r+1, o.rounds, ts[i].name,
				perSecond(res.checks, res.elapsed), res.p99.Round(time.Microsecond))
			samples[i] = append(samples[i], res.latencies...)
			res.latencies = nil // buf is reused by the next round
			results[i] = append(results[i], res)
		}
	}
	lvl.Noop = summarize(results[0], samples[0])
	lvl.Gatehouse = summarize(results[1], samples[1])
	return lvl, nil
}

// runRound runs one round and, when it fails, adds the server's own output if the
// server has died.
func runRound(ctx context.Context, t *target, req *authv3.CheckRequest, r round, buf []time.Duration) (roundResult, error) {
	res, err := t.run(ctx, req, r, buf)
	if err != nil && t.proc.exited() {
		err = errors.Join(err, t.proc.exitError())
	}
	return res, err
}
