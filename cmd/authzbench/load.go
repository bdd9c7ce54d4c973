package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/genproto/googleapis/rpc/code"
	"google.golang.org/grpc"
)

// target is a server under test with the benchmark's client connections to it.
type target struct {
	name    string
	proc    *proc
	conns   []*grpc.ClientConn
	clients []authv3.AuthorizationClient
}

// newTarget opens n client connections to addr.
func newTarget(name string, p *proc, addr string, n int) (*target, error) {
	t := &target{name: name, proc: p}
	for range n {
		conn, err := dial(addr)
		if err != nil {
			t.close()
			return nil, err
		}
		conn.Connect()
		t.conns = append(t.conns, conn)
		t.clients = append(t.clients, authv3.NewAuthorizationClient(conn))
	}
	return t, nil
}

// close closes the client connections.
func (t *target) close() {
	for _, c := range t.conns {
		c.Close()
	}
}

// round bounds one round: it ends after duration or maxChecks checks, whichever is first.
type round struct {
	concurrency int
	duration    time.Duration
	maxChecks   int
	timeout     time.Duration // deadline of each Check
}

// roundResult is what one round measured.
type roundResult struct {
	checks    int
	elapsed   time.Duration
	cpu       time.Duration   // server user+system CPU during the round
	clientCPU time.Duration   // authzbench's own CPU during the round
	maxRSS    memSample       // the server's sample of largest VmRSS during the round
	hwm       int64           // server VmHWM (lifetime peak) at the end of the round
	latencies []time.Duration // one per check, in buf passed to run
	p99       time.Duration   // of latencies, filled in by the caller
}

// run loads t with concurrency closed-loop clients, each sending req and waiting for the
// answer before the next. Worker i uses connection i mod len(conns). Latencies are
// written to buf, which must hold r.maxChecks entries. Any answer but an allow ends the
// round with an error.
func (t *target) run(ctx context.Context, req *authv3.CheckRequest, r round, buf []time.Duration) (roundResult, error) {
	if len(buf) < r.maxChecks {
		return roundResult{}, fmt.Errorf("latency buffer of %d for %d checks", len(buf), r.maxChecks)
	}
	runtime.GC() // the previous round's garbage is not collected during this one
	pid, self := t.proc.pid(), os.Getpid()
	cpu0, err := cpuTime(pid)
	if err != nil {
		return roundResult{}, err
	}
	client0, err := cpuTime(self)
	if err != nil {
		return roundResult{}, err
	}
	rss := sampleRSS(pid)

	var (
		next     atomic.Int64 // tickets: check n writes buf[n-1]
		stop     atomic.Bool
		failOnce sync.Once
		failure  error
		wg       sync.WaitGroup
	)
	fail := func(err error) {
		failOnce.Do(func() { failure = err })
		stop.Store(true)
	}
	start := time.Now()
	timer := time.AfterFunc(r.duration, func() { stop.Store(true) })
	for i := range r.concurrency {
		client := t.clients[i%len(t.clients)]
		wg.Go(func() {
			for !stop.Load() {
				n := next.Add(1)
				if n > int64(r.maxChecks) {
					return
				}
				cctx, cancel := context.WithTimeout(ctx, r.timeout)
				t0 := time.Now()
				resp, err := client.Check(cctx, req)
				lat := time.Since(t0)
				cancel()
				if err == nil {
					err = allowed(resp)
				}
				if err != nil {
					if ctx.Err() != nil {
						err = ctx.Err()
					}
					fail(fmt.Errorf("%s: check %d: %w", t.name, n, err))
					return
				}
				buf[n-1] = lat
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	timer.Stop()
	maxRSS, rssErr := rss.stop()
	if failure != nil {
		return roundResult{}, failure
	}
	cpu1, err := cpuTime(pid)
	if err != nil {
		return roundResult{}, err
	}
	client1, err := cpuTime(self)
	if err != nil {
		return roundResult{}, err
	}
	end, err := memStatus(pid)
	if err = errors.Join(err, rssErr); err != nil {
		return roundResult{}, err
	}
	checks := int(min(next.Load(), int64(r.maxChecks)))
	return roundResult{
		checks:    checks,
		elapsed:   elapsed,
		cpu:       cpu1 - cpu0,
		clientCPU: client1 - client0,
		maxRSS:    maxRSS,
		hwm:       end.hwm,
		latencies: buf[:checks],
	}, nil
}

// errNotAllowed marks a CheckResponse that is not an allow.
var errNotAllowed = errors.New("not an allow")

// allowed returns nil for an allow (status OK with an OkHttpResponse) and otherwise an
// error that describes the response.
func allowed(resp *authv3.CheckResponse) error {
	c := resp.GetStatus().GetCode()
	if c == int32(code.Code_OK) && resp.GetOkResponse() != nil {
		return nil
	}
	msg := fmt.Sprintf("status %s", code.Code(c))
	if m := resp.GetStatus().GetMessage(); m != "" {
		msg += fmt.Sprintf(" (%s)", m)
	}
	if d := resp.GetDeniedResponse(); d != nil {
		msg += fmt.Sprintf(", HTTP %d", d.GetStatus().GetCode())
		if d.GetBody() != "" {
			msg += ", body " + d.GetBody()
		}
	}
	return fmt.Errorf("%w: %s", errNotAllowed, msg)
}
