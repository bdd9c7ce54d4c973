package decisionlog

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strconv"
	"time"
	"unsafe"
)

// fileMode is the mode of a created log file: the owner writes, its group (a log
// shipper) reads, others have no access — lines name principals and their attributes.
const fileMode = 0o640

// rotateRetry is how long the writer waits before trying again a rotation that failed.
var rotateRetry = 30 * time.Second

// failure kinds, each reported once per run of failures.
const (
	failWrite = iota
	failRotate
	failEncode
	failKinds
)

// writer is the goroutine that owns the output.
type writer struct {
	l        *Logger
	w        io.Writer
	f        *os.File // the file output, nil for stdout/stderr
	path     string
	rotating bool // f is a regular file: rotate it by size
	size     int64
	maxSize  int64
	maxFiles int
	retryAt  time.Time

	enc         lineEncoder
	spare       []byte // the buffer handed to Log for the next records
	out         []byte // the lines of the records being written
	needNewline bool   // a partial write left an unterminated line

	errorLog func(error)
	failing  [failKinds]bool
}

// open opens the file output for appending.
func (w *writer) open(path string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, fileMode)
	if err != nil {
		return err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return err
	}
	if fi.IsDir() {
		f.Close()
		return fmt.Errorf("%s is a directory", path)
	}
	w.f, w.w, w.path = f, f, path
	w.rotating = fi.Mode().IsRegular()
	w.size = fi.Size()
	if w.size > 0 {
		// A line cut short by a crash must not swallow our first line.
		w.needNewline = !endsWithNewline(path, w.size)
	}
	return nil
}

// endsWithNewline reports whether the file's last byte is a newline; when the file cannot
// be read, it assumes so.
func endsWithNewline(path string, size int64) bool {
	f, err := os.Open(path)
	if err != nil {
		return true
	}
	defer f.Close()
	var last [1]byte
	_, err = f.ReadAt(last[:], size-1)
	return err != nil || last[0] == '\n'
}

// run writes the waiting records until the Logger is closed and nothing waits, or Close
// gives up.
func (w *writer) run() {
	l := w.l
	defer func() {
		if w.f != nil {
			if err := w.f.Close(); err != nil {
				l.closeErr = fmt.Errorf("decision log: %w", err)
				w.report(failWrite, l.closeErr)
			}
		}
		close(l.done)
	}()
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		<-l.wake
		// Gather lines for one flush interval, unless enough are waiting already or the
		// Logger is closing.
		timer.Reset(l.flushEvery)
		select {
		case <-timer.C:
		case <-l.flushNow:
			timer.Stop()
		}
		for {
			batch, n, closed := l.take(w.spare)
			if n > 0 {
				w.writeBatch(batch, n)
				l.processed.Add(uint64(n))
			}
			w.spare = batch
			if cap(w.spare) > maxSpare {
				w.spare = nil // a burst grew it: let it go
			}
			switch {
			case l.abandon.Load():
				_, n, _ := l.take(nil)
				l.dropped.Add(uint64(n))
				l.processed.Add(uint64(n))
				return
			case closed && n == 0:
				return
			case n == 0:
			default:
				continue // more may have come while writing
			}
			break
		}
	}
}

// maxSpare is the largest buffer kept between batches; lineChunk is how many bytes of
// lines the writer encodes before it writes them.
const (
	maxSpare  = 4 << 20
	lineChunk = 1 << 20
)

// writeBatch encodes the n record snapshots of batch into lines and writes them,
// lineChunk bytes of lines at a time. When Close gives up it stops after a write, counting
// the records left as dropped; so is a record that cannot be read or encoded (a bug),
// which is reported through ErrorLog.
func (w *writer) writeBatch(batch []byte, n int) {
	// The lines are built from strings that share batch's memory, not copies: batch is
	// the writer's until it hands it back to Log (take), after this returns, and none of
	// these strings outlives this call.
	s := unsafe.String(unsafe.SliceData(batch), len(batch))
	out := w.out[:0]
	lines, done := 0, 0 // lines in out; records taken from batch
	for i := 0; done < n; done++ {
		rec, ok := nextSnapshot(s, &i)
		if !ok {
			w.report(failEncode, errors.New("decision log: records could not be read (a bug); dropped"))
			break
		}
		if out, ok = w.enc.appendLine(out, rec); !ok {
			w.l.dropped.Add(1)
			w.report(failEncode, errors.New("decision log: a record could not be encoded (a bug); dropped"))
			continue
		}
		w.failing[failEncode] = false
		lines++
		if len(out) >= lineChunk && done+1 < n {
			w.writeLines(out, lines)
			out, lines = out[:0], 0
			if w.l.abandon.Load() {
				done++
				break
			}
		}
	}
	if lines > 0 {
		w.writeLines(out, lines)
	}
	if done < n {
		w.l.dropped.Add(uint64(n - done))
	}
	if cap(out) > maxSpare {
		out = nil // a huge line grew it: let it go
	}
	w.out = out[:0]
}

// nextSnapshot returns the record of the snapshot at s[*i:] and moves *i past it.
func nextSnapshot(s string, i *int) (rec string, ok bool) {
	d := decoder{s: s, i: *i}
	rec = d.body()
	*i = d.i
	return rec, !d.bad
}

// writeLines writes n whole lines, rotating the file between lines when the next would
// take it past maxSize.
func (w *writer) writeLines(p []byte, n int) {
	fresh := false // just rotated: write a line even if someone else filled the new file
	for len(p) > 0 {
		if !w.rotating || w.size+int64(len(p)) <= w.maxSize || time.Now().Before(w.retryAt) {
			w.flush(p, n)
			return
		}
		// Write the lines that fit, then rotate. A line longer than maxSize goes alone
		// into a fresh file.
		room := w.maxSize - w.size
		cut, k := 0, 0
		for cut < len(p) {
			end := cut + bytes.IndexByte(p[cut:], '\n') + 1
			if int64(end) > room && (k > 0 || w.size > 0 && !fresh) {
				break
			}
			cut, k = end, k+1
		}
		if cut > 0 {
			w.flush(p[:cut], k)
			p, n = p[cut:], n-k
		}
		if len(p) > 0 {
			w.rotate()
			fresh = true
		}
	}
}

// flush writes n lines. The lines of a failed write are counted as dropped.
func (w *writer) flush(p []byte, n int) {
	if w.needNewline {
		// End the line a partial write cut, so the next one parses.
		if _, err := w.write([]byte{'\n'}); err == nil {
			w.size++
			w.needNewline = false
		}
	}
	m, err := w.write(p)
	w.size += int64(m)
	if err == nil && m < len(p) {
		err = io.ErrShortWrite
	}
	if err != nil {
		w.l.dropped.Add(uint64(n))
		w.needNewline = w.needNewline || m > 0 && p[m-1] != '\n'
		w.report(failWrite, fmt.Errorf("decision log: writing: %w", err))
		return
	}
	w.l.written.Add(uint64(n))
	w.failing[failWrite] = false
}

// write calls the output, turning a panic into an error.
func (w *writer) write(p []byte) (n int, err error) {
	defer func() {
		if r := recover(); r != nil {
			n, err = 0, fmt.Errorf("output panicked: %v", r)
		}
	}()
	return w.w.Write(p)
}

// rotate shifts path.N-1 → path.N, …, path → path.1 and reopens path. On failure it
// keeps the current file and tries again after rotateRetry.
func (w *writer) rotate() {
	now := time.Now()
	if err := w.shift(); err != nil {
		w.retryAt = now.Add(rotateRetry)
		w.report(failRotate, fmt.Errorf("decision log: rotating %s: %w", w.path, err))
		return
	}
	f, err := os.OpenFile(w.path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, fileMode)
	if err != nil {
		// The current file is now path.1; keep writing there.
		w.retryAt = now.Add(rotateRetry)
		w.report(failRotate, fmt.Errorf("decision log: rotating %s: %w", w.path, err))
		return
	}
	if err := w.f.Close(); err != nil {
		w.report(failWrite, fmt.Errorf("decision log: closing rotated file: %w", err))
	}
	w.f, w.w, w.size = f, f, 0
	if fi, err := f.Stat(); err == nil {
		w.size = fi.Size() // someone else may have created it meanwhile
	}
	w.failing[failRotate] = false
}

func (w *writer) shift() error {
	name := func(i int) string { return w.path + "." + strconv.Itoa(i) }
	for i := w.maxFiles - 1; i >= 1; i-- {
		if err := os.Rename(name(i), name(i+1)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	if err := os.Rename(w.path, name(1)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// report tells ErrorLog about the first failure of a kind since that kind last worked.
func (w *writer) report(kind int, err error) {
	if w.failing[kind] {
		return
	}
	w.failing[kind] = true
	if w.errorLog == nil {
		return
	}
	defer func() { _ = recover() }()
	w.errorLog(err)
}
