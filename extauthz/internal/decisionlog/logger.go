package decisionlog

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults of Options.
const (
	DefaultOutput       = "stdout"
	DefaultMaxSizeBytes = 100 << 20
	DefaultMaxFiles     = 5
	DefaultQueueSize    = 4096
	// DefaultFlushInterval is how long the writer gathers lines before it writes them.
	DefaultFlushInterval = 100 * time.Millisecond
	// MaxFlushInterval bounds Options.FlushInterval.
	MaxFlushInterval = 10 * time.Second
	// MaxFiles and MaxQueueSize bound the options of the same names.
	MaxFiles     = 1000
	MaxQueueSize = 1 << 20
)

// Options configure a Logger. The zero value logs every decision to stdout.
type Options struct {
	// Output is "stdout", "stderr" or a file path (default "stdout"). The file is opened
	// for appending and created with mode 0640 when missing; its directory must exist.
	Output string
	// MaxSizeBytes rotates a regular file when the next line would take it past this size
	// (default 100 MiB). A line longer than this on its own is still written, alone.
	MaxSizeBytes int64
	// MaxFiles is how many rotated files are kept: path.1 (newest) … path.MaxFiles
	// (default 5, at most 1000).
	MaxFiles int
	// SampleRate is the fraction of allows logged, between 0 and 1 (nil: 1, every allow).
	// Denials are always logged, whatever the rate: auditors need every refusal.
	SampleRate *float64
	// Redact lists further attribute names whose values are replaced by "[REDACTED]",
	// besides BuiltinRedact. Names are compared ignoring ASCII case and the separators
	// "-", "_" and ".", and an attribute whose name ends with a listed one is redacted
	// too ("ssn" also redacts user_ssn), at any depth of the attribute maps and lists.
	// The whole value goes, whatever its type.
	Redact []string
	// QueueSize is how many records may wait between the checks and the writer (default
	// 4096, at most 1048576; their snapshots also never take more than 32 MiB). Records
	// beyond it are dropped and counted.
	QueueSize int
	// FlushInterval is how long the writer waits, once a record is waiting, for more
	// before it encodes and writes them all at once (default 100ms, at most 10s): one
	// write call per interval instead of one per check, and the JSON encoding off the
	// checks' goroutines. Half a queue of records, or 1 MiB of snapshots, is written
	// without waiting; Close writes what is left. A crash loses at most the records of
	// one interval.
	FlushInterval time.Duration
	// ErrorLog, if set, is told about write, rotation and close failures (from the writer
	// goroutine). Each kind of failure is reported once until that operation succeeds
	// again.
	ErrorLog func(error)
	// Stdout replaces os.Stdout as the "stdout" output (for tests).
	Stdout io.Writer
}

// Logger writes decision records as JSON lines. See the package documentation.
type Logger struct {
	enc       *encoder
	rate      float64
	queueSize int

	closed atomic.Bool // set under mu; read without it as a shortcut

	// mu guards the records waiting for the writer: checks append their snapshots to
	// pending, the writer swaps it for an empty buffer and encodes and writes what it
	// held without holding mu.
	mu           sync.Mutex
	pending      []byte
	pendingLines int
	queued       uint64        // records ever appended to pending
	wake         chan struct{} // a token when pending got its first line, or on Close
	flushNow     chan struct{} // a token when pending should be written without waiting, or on Close
	flushEvery   time.Duration

	abandon  atomic.Bool // Close gave up waiting: the writer stops after its current write
	done     chan struct{}
	closeErr error // set by the writer before done is closed

	dropped   atomic.Uint64
	written   atomic.Uint64
	processed atomic.Uint64 // queued records the writer has written or dropped
}

// maxPendingBytes bounds the memory of waiting snapshots whatever their size;
// initialBuffer is the starting capacity of the two buffers that take turns holding them.
const (
	maxPendingBytes = 32 << 20
	initialBuffer   = 64 << 10
)

// New validates the options, opens the output and starts the writer goroutine. Every
// problem is reported, each naming its configuration key (decisionLog.…).
func New(opts Options) (*Logger, error) {
	if errs := opts.fill(); len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return start(opts)
}

// Problems returns what New would reject in opts, without opening anything: for checking
// a configuration when it is loaded. Each error names its key (decisionLog.…).
func (opts Options) Problems() []error { return opts.fill() }

// fill applies the defaults and returns every problem of the options.
func (opts *Options) fill() (errs []error) {
	if opts.Output == "" {
		opts.Output = DefaultOutput
	}
	if opts.MaxSizeBytes == 0 {
		opts.MaxSizeBytes = DefaultMaxSizeBytes
	} else if opts.MaxSizeBytes < 0 {
		errs = append(errs, errors.New("decisionLog.maxSizeBytes: must be positive"))
	}
	if opts.MaxFiles == 0 {
		opts.MaxFiles = DefaultMaxFiles
	} else if opts.MaxFiles < 0 || opts.MaxFiles > MaxFiles {
		errs = append(errs, fmt.Errorf("decisionLog.maxFiles: must be between 1 and %d", MaxFiles))
	}
	rate := 1.0
	if opts.SampleRate != nil {
		rate = *opts.SampleRate
		if !(rate >= 0 && rate <= 1) { // also rejects NaN
			errs = append(errs, errors.New("decisionLog.sampleRate: must be between 0 and 1"))
		}
	}
	for i, name := range opts.Redact {
		if name == "" {
			errs = append(errs, fmt.Errorf("decisionLog.redact[%d]: must not be empty", i))
		}
	}
	if opts.FlushInterval == 0 {
		opts.FlushInterval = DefaultFlushInterval
	} else if opts.FlushInterval < time.Millisecond || opts.FlushInterval > MaxFlushInterval {
		errs = append(errs, fmt.Errorf("decisionLog.flushInterval: must be between 1ms and %v", MaxFlushInterval))
	}
	if opts.QueueSize == 0 {
		opts.QueueSize = DefaultQueueSize
	} else if opts.QueueSize < 0 || opts.QueueSize > MaxQueueSize {
		errs = append(errs, fmt.Errorf("decisionLog.queueSize: must be between 1 and %d", MaxQueueSize))
	}
	return errs
}

// start opens the output of valid, filled-in options and starts the writer.
func start(opts Options) (*Logger, error) {
	rate := 1.0
	if opts.SampleRate != nil {
		rate = *opts.SampleRate
	}
	w := &writer{maxSize: opts.MaxSizeBytes, maxFiles: opts.MaxFiles, errorLog: opts.ErrorLog,
		spare: make([]byte, 0, initialBuffer)}
	switch opts.Output {
	case "stdout":
		w.w = os.Stdout
		if opts.Stdout != nil {
			w.w = opts.Stdout
		}
	case "stderr":
		w.w = os.Stderr
	default:
		if err := w.open(opts.Output); err != nil {
			return nil, fmt.Errorf("decisionLog.output: %w", err)
		}
	}
	l := &Logger{
		enc:        newEncoder(opts.Redact),
		rate:       rate,
		queueSize:  opts.QueueSize,
		pending:    make([]byte, 0, initialBuffer),
		wake:       make(chan struct{}, 1),
		flushNow:   make(chan struct{}, 1),
		flushEvery: opts.FlushInterval,
		done:       make(chan struct{}),
	}
	w.l = l
	w.enc.encoder = l.enc
	go w.run()
	return l, nil
}

// Log records one decision. It never blocks on the output: it copies what r holds into a
// compact snapshot (rendering now the values that the line prints with %v or a String
// method) and appends it to the records waiting for the writer, or drops it (and counts
// it) when Options.QueueSize records are already waiting or the Logger is closed. It keeps
// no reference to r or to anything r refers to. Sorting, redaction and JSON encoding
// happen later, on the writer goroutine.
func (l *Logger) Log(r *Record) {
	if l == nil || r == nil {
		return
	}
	if l.closed.Load() {
		l.dropped.Add(1)
		return
	}
	if r.Decision == Allow && l.rate < 1 && (l.rate == 0 || rand.Float64() >= l.rate) {
		return
	}
	s := l.snapshot(r)
	if s == nil {
		l.dropped.Add(1)
		return
	}
	l.mu.Lock()
	if l.closed.Load() || l.pendingLines >= l.queueSize || len(l.pending)+len(s.b) > maxPendingBytes {
		l.mu.Unlock()
		l.dropped.Add(1)
		putSnap(s)
		return
	}
	l.pending = append(l.pending, s.b...)
	l.pendingLines++
	l.queued++
	first := l.pendingLines == 1
	full := l.pendingLines == (l.queueSize+1)/2 || len(l.pending) >= flushBytes && len(l.pending)-len(s.b) < flushBytes
	l.mu.Unlock()
	putSnap(s)
	if first {
		signal(l.wake)
	}
	if full {
		signal(l.flushNow)
	}
}

// flushBytes of waiting snapshots are written without waiting for the flush interval.
const flushBytes = 1 << 20

// signal wakes the writer; a token already waiting will do.
func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// snapshot returns the snapshot of r, or nil if taking it panicked (a value whose String
// method panics, say): the decision log must never take a check down.
func (l *Logger) snapshot(r *Record) *snap {
	s := snapPool.Get().(*snap)
	if s.take(r, l.enc) {
		return s
	}
	putSnap(s)
	return nil
}

// take hands the waiting snapshots to the writer in exchange for an empty buffer.
func (l *Logger) take(empty []byte) (snapshots []byte, n int, closed bool) {
	l.mu.Lock()
	snapshots, n = l.pending, l.pendingLines
	l.pending, l.pendingLines = empty[:0], 0
	closed = l.closed.Load()
	l.mu.Unlock()
	return snapshots, n, closed
}

// Close stops accepting records, waits until the waiting lines are written (or ctx is
// done) and closes the output file. When ctx ends first, Close returns an error wrapping
// ctx.Err(); the writer then stops after the write in progress, counting the lines left
// as dropped. Log after Close only counts the record as dropped. Close may be called more
// than once.
func (l *Logger) Close(ctx context.Context) error {
	if l == nil {
		return nil
	}
	l.mu.Lock()
	l.closed.Store(true)
	waiting := l.pendingLines
	l.mu.Unlock()
	signal(l.wake)
	signal(l.flushNow)
	select {
	case <-l.done:
		return l.closeErr
	case <-ctx.Done():
		l.abandon.Store(true)
		return fmt.Errorf("decision log: closing with %d lines not written: %w", waiting, ctx.Err())
	}
}

// Flush asks the writer to write the waiting lines now, without waiting for the flush
// interval, and waits until every record logged before the call is written or dropped, or
// ctx is done. The service never needs it (Close flushes); benchmarks use it to count the
// writer's work against the checks that caused it.
func (l *Logger) Flush(ctx context.Context) error {
	if l == nil {
		return nil
	}
	l.mu.Lock()
	target := l.queued
	l.mu.Unlock()
	if l.processed.Load() >= target {
		return nil
	}
	signal(l.wake)
	signal(l.flushNow)
	for l.processed.Load() < target {
		select {
		case <-ctx.Done():
			return fmt.Errorf("decision log: flush: %w", ctx.Err())
		case <-l.done:
			return nil // closed: what was left has been written or dropped
		case <-time.After(50 * time.Microsecond):
		}
	}
	return nil
}

// Dropped is the number of lines lost: queue full, write failures, Log after Close.
// Allows left out by sampling are not counted.
func (l *Logger) Dropped() uint64 {
	if l == nil {
		return 0
	}
	return l.dropped.Load()
}

// Written is the number of lines written to the output.
func (l *Logger) Written() uint64 {
	if l == nil {
		return 0
	}
	return l.written.Load()
}
