package decisionlog

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// hangGuard bounds waits that only a bug makes long. It is never a speed assertion.
const hangGuard = 30 * time.Second

func TestSecretNames(t *testing.T) {
	e := newEncoder([]string{"SSN", "x-internal-id"})
	for name, want := range map[string]bool{
		"authorization": true, "Authorization": true, "proxy-authorization": true,
		"cookie": true, "Set-Cookie": true, "session_cookie": true,
		"token": true, "access_token": true, "accessToken": true, "ID_TOKEN": true, "csrf.token": true,
		"password": true, "db_password": true, "secret": true, "clientSecret": true,
		"api_key": true, "apikey": true, "X-Api-Key": true,
		"ssn": true, "user_ssn": true, "X_Internal_ID": true, "xinternalid": true,
		"": false, "email": false, "tokens": false, "author": false, "secrets": false,
		"key": false, "cookies": false, "passwordHint": false, "id": false,
	} {
		if got := e.secret(name); got != want {
			t.Errorf("secret(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestNewValidates(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		opts Options
		want []string // substrings of the error; none: no error
	}{
		{"defaults", Options{}, nil},
		{"negative size", Options{MaxSizeBytes: -1}, []string{"decisionLog.maxSizeBytes: must be positive"}},
		{"negative files", Options{MaxFiles: -2}, []string{"decisionLog.maxFiles: must be between 1 and 1000"}},
		{"many files", Options{MaxFiles: 1001}, []string{"decisionLog.maxFiles: must be between 1 and 1000"}},
		{"rate above 1", Options{SampleRate: ptr(1.5)}, []string{"decisionLog.sampleRate: must be between 0 and 1"}},
		{"rate below 0", Options{SampleRate: ptr(-0.1)}, []string{"decisionLog.sampleRate: must be between 0 and 1"}},
		{"rate NaN", Options{SampleRate: ptr(nan())}, []string{"decisionLog.sampleRate"}},
		{"rate 0", Options{SampleRate: ptr(0.0)}, nil},
		{"empty redact", Options{Redact: []string{"ssn", ""}}, []string{"decisionLog.redact[1]: must not be empty"}},
		{"queue", Options{QueueSize: -1}, []string{"decisionLog.queueSize: must be between 1 and 1048576"}},
		{"flush interval too short", Options{FlushInterval: time.Microsecond}, []string{"decisionLog.flushInterval: must be between 1ms and 10s"}},
		{"flush interval too long", Options{FlushInterval: time.Minute}, []string{"decisionLog.flushInterval: must be between 1ms and 10s"}},
		{"all at once", Options{MaxSizeBytes: -1, QueueSize: MaxQueueSize + 1, SampleRate: ptr(2.0)},
			[]string{"maxSizeBytes", "queueSize", "sampleRate"}},
		{"missing directory", Options{Output: filepath.Join(dir, "nope", "decisions.log")}, []string{"decisionLog.output: open ", "no such file or directory"}},
		{"directory", Options{Output: dir}, []string{"decisionLog.output: "}},
		{"stderr", Options{Output: "stderr"}, nil},
		{"file", Options{Output: filepath.Join(dir, "decisions.log")}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, err := New(tc.opts)
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("New: %v", err)
				}
				if err := l.Close(context.Background()); err != nil {
					t.Fatalf("Close: %v", err)
				}
				return
			}
			if err == nil {
				l.Close(context.Background())
				t.Fatalf("New succeeded, want an error with %q", tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func nan() float64 { var z float64; return z / z }

func TestFileMode(t *testing.T) {
	path := filepath.Join(t.TempDir(), "decisions.log")
	l, err := New(Options{Output: path})
	if err != nil {
		t.Fatal(err)
	}
	l.Close(context.Background())
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm&^0o640 != 0 {
		t.Errorf("mode %v, want at most 0640", perm)
	}
}

func TestNilLogger(t *testing.T) {
	var l *Logger
	l.Log(&Record{Decision: Deny})
	if err := l.Close(context.Background()); err != nil || l.Dropped() != 0 || l.Written() != 0 {
		t.Fatalf("nil logger: %v %d %d", err, l.Dropped(), l.Written())
	}
}

func TestSampling(t *testing.T) {
	run := func(rate float64, allows, denies int) (gotAllows, gotDenies int) {
		var out syncBuffer
		l, err := New(Options{Stdout: &out, SampleRate: ptr(rate), QueueSize: allows + denies})
		if err != nil {
			t.Fatal(err)
		}
		for i := range allows + denies {
			d := Allow
			if i >= allows {
				d = Deny
			}
			l.Log(&Record{Decision: d, DecisionID: fmt.Sprint(i)})
		}
		if err := l.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		if l.Dropped() != 0 {
			t.Fatalf("%d lines dropped", l.Dropped())
		}
		for _, e := range parseLines(t, out.Bytes()) {
			if e.Decision == Allow {
				gotAllows++
			} else {
				gotDenies++
			}
		}
		return gotAllows, gotDenies
	}
	if a, d := run(0, 1000, 1000); a != 0 || d != 1000 {
		t.Errorf("rate 0: %d allows, %d denies logged; want 0 and 1000", a, d)
	}
	if a, d := run(1, 1000, 1000); a != 1000 || d != 1000 {
		t.Errorf("rate 1: %d allows, %d denies logged; want 1000 and 1000", a, d)
	}
	// 20,000 draws at 0.25: the standard deviation of the fraction is 0.003, so
	// 0.22–0.28 is ten of them.
	a, d := run(0.25, 20000, 500)
	if f := float64(a) / 20000; f < 0.22 || f > 0.28 || d != 500 {
		t.Errorf("rate 0.25: %d allows (%.3f), %d of 500 denies logged", a, f, d)
	}
}

// blockedWriter never returns from Write until released: a disk or pipe that hangs.
type blockedWriter struct {
	entered chan struct{}
	release chan struct{}
	once    sync.Once
}

func (w *blockedWriter) Write(p []byte) (int, error) {
	w.once.Do(func() { close(w.entered) })
	<-w.release
	return len(p), nil
}

func TestLogNeverBlocks(t *testing.T) {
	w := &blockedWriter{entered: make(chan struct{}), release: make(chan struct{})}
	l, err := New(Options{Stdout: w, QueueSize: 64})
	if err != nil {
		t.Fatal(err)
	}
	const n = 10000
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		for i := range n {
			l.Log(&Record{Decision: Deny, DecisionID: fmt.Sprint(i)})
		}
	}()
	select {
	case <-finished:
	case <-time.After(hangGuard):
		t.Fatal("Log blocked on a stuck output")
	}
	<-w.entered
	if l.Dropped() == 0 {
		t.Fatal("nothing dropped although the output never accepted a line")
	}

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	closed := make(chan error, 1)
	go func() { closed <- l.Close(ctx) }()
	select {
	case err := <-closed:
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Close on a stuck output: %v, want a deadline error", err)
		}
	case <-time.After(hangGuard):
		t.Fatal("Close hung on a stuck output")
	}
	l.Log(&Record{Decision: Deny}) // after Close: dropped, not blocked

	// Once the output moves again, the writer gives up and every line is accounted for.
	close(w.release)
	select {
	case <-l.done:
	case <-time.After(hangGuard):
		t.Fatal("the writer did not stop after Close gave up")
	}
	if got := l.Written() + l.Dropped(); got != n+1 {
		t.Errorf("written %d + dropped %d = %d, want %d", l.Written(), l.Dropped(), got, n+1)
	}
}

// TestStuckPipe: a real pipe nobody reads.
func TestStuckPipe(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	// Fill the pipe's buffer, so that the writer's first write blocks.
	chunk := make([]byte, 4096)
	for {
		w.SetWriteDeadline(time.Now().Add(20 * time.Millisecond))
		if _, err := w.Write(chunk); err != nil {
			if !errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatal(err)
			}
			break
		}
	}
	w.SetWriteDeadline(time.Time{})
	l, err := New(Options{Stdout: w, QueueSize: 16})
	if err != nil {
		t.Fatal(err)
	}
	rec := fullRecord()
	start := time.Now()
	for range 10000 {
		l.Log(rec)
	}
	if time.Since(start) > hangGuard {
		t.Fatal("Log blocked on a full pipe")
	}
	if l.Dropped() == 0 {
		t.Fatal("nothing dropped on a pipe nobody reads")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := l.Close(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Close: %v, want a deadline error", err)
	}
	w.Close() // unblocks the writer (EPIPE or a closed-file error)
	<-l.done
}

func TestCloseDrains(t *testing.T) {
	for _, n := range []int{0, 1, 1000, 5000} {
		var out syncBuffer
		l, err := New(Options{Stdout: &out, QueueSize: 5000})
		if err != nil {
			t.Fatal(err)
		}
		for i := range n {
			l.Log(&Record{Decision: Allow, DecisionID: fmt.Sprint(i)})
		}
		if err := l.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		lines := parseLines(t, out.Bytes())
		if len(lines) != n || l.Written() != uint64(n) || l.Dropped() != 0 {
			t.Fatalf("%d logged: %d lines, written %d, dropped %d", n, len(lines), l.Written(), l.Dropped())
		}
		for i, e := range lines {
			if e.DecisionID != fmt.Sprint(i) {
				t.Fatalf("line %d is decision %s: order lost", i, e.DecisionID)
			}
		}
		if err := l.Close(context.Background()); err != nil {
			t.Fatalf("second Close: %v", err)
		}
		l.Log(&Record{Decision: Deny})
		if l.Dropped() != 1 || len(parseLines(t, out.Bytes())) != n {
			t.Fatalf("Log after Close: dropped %d", l.Dropped())
		}
	}
}

func TestConcurrentLog(t *testing.T) {
	var out syncBuffer
	l, err := New(Options{Stdout: &out, QueueSize: 256, SampleRate: ptr(0.5)})
	if err != nil {
		t.Fatal(err)
	}
	const goroutines, each = 16, 2000
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			r := fullRecord() // one Record reused, as the server reuses pooled memory
			for i := range each {
				r.DecisionID = fmt.Sprintf("%d-%d", g, i)
				r.Decision = Deny
				r.PrincipalAttr["n"] = float64(i)
				l.Log(r)
				r.Decision = Allow
				l.Log(r)
			}
		})
	}
	wg.Wait()
	if err := l.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	lines := parseLines(t, out.Bytes())
	if uint64(len(lines)) != l.Written() {
		t.Fatalf("%d lines, written %d", len(lines), l.Written())
	}
	denies := 0
	for _, e := range lines {
		if e.Decision == Deny {
			denies++
		}
	}
	if got := uint64(denies) + l.Dropped(); got < goroutines*each {
		t.Errorf("%d denies logged + %d dropped < %d denies", denies, l.Dropped(), goroutines*each)
	}
}

// TestCloseWhileLogging: Log and Close race; nothing panics and every line is whole.
func TestCloseWhileLogging(t *testing.T) {
	var out syncBuffer
	l, err := New(Options{Stdout: &out})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 1000 {
				l.Log(&Record{Decision: Deny})
			}
		})
	}
	if err := l.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if got := uint64(len(parseLines(t, out.Bytes()))); got != l.Written() || l.Written()+l.Dropped() != 8000 {
		t.Fatalf("%d lines, written %d, dropped %d", got, l.Written(), l.Dropped())
	}
}

type panicky struct{}

func (panicky) String() string { panic("boom") }

func TestLogSurvivesPanickingValue(t *testing.T) {
	var out syncBuffer
	l, err := New(Options{Stdout: &out})
	if err != nil {
		t.Fatal(err)
	}
	l.Log(&Record{Decision: Deny, PrincipalAttr: map[string]any{"x": panicky{}}})
	l.Log(&Record{Decision: Deny, DecisionID: "next"})
	if err := l.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	lines := parseLines(t, out.Bytes())
	if len(lines) != 1 || lines[0].DecisionID != "next" || l.Dropped() != 1 {
		t.Fatalf("lines %v, dropped %d", lines, l.Dropped())
	}
}

// countingWriter counts Write calls.
type countingWriter struct {
	syncBuffer
	writes atomic.Int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	c.writes.Add(1)
	return c.syncBuffer.Write(p)
}

// waitWritten waits (boundedly) until l has written n lines.
func waitWritten(t *testing.T, l *Logger, n uint64, within time.Duration) {
	t.Helper()
	for deadline := time.Now().Add(within); l.Written() < n; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d lines written after %v", l.Written(), n, within)
		}
	}
}

func TestFlushIntervalGathersLines(t *testing.T) {
	out := &countingWriter{}
	l, err := New(Options{Stdout: out, FlushInterval: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close(context.Background())
	start := time.Now()
	for i := range 50 {
		l.Log(&Record{DecisionID: fmt.Sprint(i), Decision: Deny})
	}
	waitWritten(t, l, 50, 5*time.Second)
	if waited := time.Since(start); waited < 150*time.Millisecond {
		t.Errorf("lines written after %v, before the flush interval", waited)
	}
	if n := out.writes.Load(); n != 1 {
		t.Errorf("%d writes for 50 lines logged at once, want 1", n)
	}
	if got := len(parseLines(t, out.Bytes())); got != 50 {
		t.Errorf("%d lines", got)
	}
}

func TestHalfQueueFlushesWithoutWaiting(t *testing.T) {
	out := &countingWriter{}
	l, err := New(Options{Stdout: out, FlushInterval: MaxFlushInterval, QueueSize: 10})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close(context.Background())
	for i := range 5 {
		l.Log(&Record{DecisionID: fmt.Sprint(i), Decision: Deny})
	}
	waitWritten(t, l, 5, 5*time.Second) // well before the 10 s interval
}

func TestCloseFlushesWithoutWaiting(t *testing.T) {
	out := &countingWriter{}
	l, err := New(Options{Stdout: out, FlushInterval: MaxFlushInterval})
	if err != nil {
		t.Fatal(err)
	}
	l.Log(&Record{DecisionID: "1", Decision: Deny})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := l.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if l.Written() != 1 {
		t.Errorf("%d lines written by Close, want 1", l.Written())
	}
}

func TestFlushWritesWithoutWaiting(t *testing.T) {
	out := &countingWriter{}
	l, err := New(Options{Stdout: out, FlushInterval: MaxFlushInterval})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := l.Flush(ctx); err != nil { // nothing logged yet
		t.Fatal(err)
	}
	for i := range 10 {
		l.Log(&Record{DecisionID: fmt.Sprint(i), Decision: Deny})
	}
	if err := l.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if l.Written() != 10 { // long before the 10 s interval
		t.Errorf("%d lines written after Flush, want 10", l.Written())
	}
	if got := len(parseLines(t, out.Bytes())); got != 10 {
		t.Errorf("%d lines in the output", got)
	}
	if err := l.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := l.Flush(ctx); err != nil {
		t.Errorf("Flush after Close: %v", err)
	}
}
