package decisionlog

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// rotatedFiles reads path.maxFiles … path.1, path (oldest first) and fails on any file
// beyond path.maxFiles.
func rotatedFiles(t *testing.T, path string, maxFiles int) (files [][]byte) {
	t.Helper()
	for i := maxFiles; i >= 0; i-- {
		name := path
		if i > 0 {
			name += "." + strconv.Itoa(i)
		}
		data, err := os.ReadFile(name)
		if err != nil {
			t.Fatalf("reading %s: %v", name, err)
		}
		files = append(files, data)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != maxFiles+1 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Fatalf("files %v, want %s and %d rotated ones", names, filepath.Base(path), maxFiles)
	}
	return files
}

// logN logs n denials numbered from 0 with a padded attribute, so lines are ~size bytes.
func logN(l *Logger, n int) {
	for i := range n {
		l.Log(&Record{Decision: Deny, DecisionID: strconv.Itoa(i), PrincipalAttr: map[string]any{"pad": strings.Repeat("p", 100)}})
	}
}

func TestRotationKeepsEveryLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "decisions.log")
	const maxSize, maxFiles, n = 2048, 40, 200 // ~190-byte lines: 10 a file, 20 files
	l, err := New(Options{Output: path, MaxSizeBytes: maxSize, MaxFiles: maxFiles, QueueSize: n})
	if err != nil {
		t.Fatal(err)
	}
	logN(l, n)
	if err := l.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if l.Dropped() != 0 || l.Written() != n {
		t.Fatalf("written %d, dropped %d", l.Written(), l.Dropped())
	}
	var all []entry
	files := 0
	for i := maxFiles; i >= 0; i-- {
		name := path
		if i > 0 {
			name += "." + strconv.Itoa(i)
		}
		data, err := os.ReadFile(name)
		if errors.Is(err, os.ErrNotExist) {
			continue
		} else if err != nil {
			t.Fatal(err)
		}
		if len(data) > maxSize {
			t.Errorf("%s has %d bytes, more than %d", name, len(data), maxSize)
		}
		if len(data) == 0 {
			t.Errorf("%s is empty", name)
		}
		files++
		all = append(all, parseLines(t, data)...)
	}
	if files < 10 {
		t.Errorf("%d files: the test no longer rotates much", files)
	}
	if uint64(len(all)) != l.Written() {
		t.Fatalf("%d lines in the files, written %d", len(all), l.Written())
	}
	for i, e := range all {
		if e.DecisionID != strconv.Itoa(i) {
			t.Fatalf("line %d (oldest file first) is decision %s", i, e.DecisionID)
		}
	}
}

func TestRotationKeepsMaxFiles(t *testing.T) {
	path := filepath.Join(t.TempDir(), "decisions.log")
	const maxSize, maxFiles, n = 2048, 3, 500
	l, err := New(Options{Output: path, MaxSizeBytes: maxSize, MaxFiles: maxFiles, QueueSize: n})
	if err != nil {
		t.Fatal(err)
	}
	logN(l, n)
	if err := l.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if l.Dropped() != 0 || l.Written() != n {
		t.Fatalf("written %d, dropped %d", l.Written(), l.Dropped())
	}
	var all []entry
	for _, data := range rotatedFiles(t, path, maxFiles) {
		if len(data) > maxSize {
			t.Errorf("a file has %d bytes, more than %d", len(data), maxSize)
		}
		all = append(all, parseLines(t, data)...)
	}
	// The files hold the newest lines, in order, without a gap.
	first := n - len(all)
	for i, e := range all {
		if e.DecisionID != strconv.Itoa(first+i) {
			t.Fatalf("line %d is decision %s, want %d", i, e.DecisionID, first+i)
		}
	}
	if len(all) < 3*10 {
		t.Errorf("only %d lines kept in %d files", len(all), maxFiles+1)
	}
}

func TestLineLargerThanMaxSize(t *testing.T) {
	path := filepath.Join(t.TempDir(), "decisions.log")
	l, err := New(Options{Output: path, MaxSizeBytes: 64, MaxFiles: 2})
	if err != nil {
		t.Fatal(err)
	}
	logN(l, 3)
	if err := l.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	for i, data := range rotatedFiles(t, path, 2) {
		if got := parseLines(t, data); len(got) != 1 || got[0].DecisionID != strconv.Itoa(i) {
			t.Errorf("file %d: %v, want decision %d alone", i, got, i)
		}
	}
}

func TestAppendsToExistingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "decisions.log")
	// A previous run crashed in the middle of a line.
	if err := os.WriteFile(path, []byte(`{"decision_id":"old","decision":"deny"}`+"\n"+`{"decision_id":"cut`), 0o640); err != nil {
		t.Fatal(err)
	}
	l, err := New(Options{Output: path})
	if err != nil {
		t.Fatal(err)
	}
	l.Log(&Record{Decision: Deny, DecisionID: "new"})
	if err := l.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	if len(lines) != 3 || lines[1] != `{"decision_id":"cut` || !strings.Contains(lines[2], `"decision_id":"new"`) {
		t.Fatalf("file:\n%s", data)
	}
}

func TestRotationFailureKeepsWriting(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "decisions.log")
	// path.1 is a non-empty directory: renaming path onto it fails.
	if err := os.MkdirAll(filepath.Join(path+".1", "x"), 0o755); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var reported []error
	l, err := New(Options{Output: path, MaxSizeBytes: 1024, MaxFiles: 1, QueueSize: 100,
		ErrorLog: func(err error) { mu.Lock(); reported = append(reported, err); mu.Unlock() }})
	if err != nil {
		t.Fatal(err)
	}
	logN(l, 100)
	if err := l.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	if got := len(parseLines(t, data)); got != 100 || l.Written() != 100 {
		t.Errorf("%d lines in %s, written %d; want 100", got, path, l.Written())
	}
	mu.Lock()
	defer mu.Unlock()
	if len(reported) != 1 || !strings.Contains(reported[0].Error(), "rotating") {
		t.Errorf("reported %v, want one rotation error", reported)
	}
}

func TestNonRegularFileIsNotRotated(t *testing.T) {
	w := &writer{}
	if err := w.open(os.DevNull); err != nil {
		t.Skip(err)
	}
	defer w.f.Close()
	if w.rotating {
		t.Fatalf("%s would be rotated", os.DevNull)
	}
}

// flakyWriter fails the writes it is told to and panics on request.
type flakyWriter struct {
	syncBuffer
	mu    sync.Mutex
	fail  bool
	panic bool
	short bool
}

func (w *flakyWriter) set(fail, panic, short bool) {
	w.mu.Lock()
	w.fail, w.panic, w.short = fail, panic, short
	w.mu.Unlock()
}

func (w *flakyWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	fail, pnc, short := w.fail, w.panic, w.short
	w.mu.Unlock()
	switch {
	case pnc:
		panic("output exploded")
	case short:
		n, _ := w.syncBuffer.Write(p[:len(p)/2])
		return n, errors.New("disk full")
	case fail:
		return 0, errors.New("disk full")
	}
	return w.syncBuffer.Write(p)
}

func TestWriteFailures(t *testing.T) {
	w := &flakyWriter{}
	var mu sync.Mutex
	var reported []string
	l, err := New(Options{Stdout: w, ErrorLog: func(err error) {
		mu.Lock()
		reported = append(reported, err.Error())
		mu.Unlock()
		panic("ErrorLog may panic too")
	}})
	if err != nil {
		t.Fatal(err)
	}
	// Each step waits for the writer, so it sees the mode it was set for.
	step := func(fail, pnc, short bool, id string) {
		w.set(fail, pnc, short)
		before := l.Written() + l.Dropped()
		l.Log(&Record{Decision: Deny, DecisionID: id, PrincipalAttr: map[string]any{"k": "v"}})
		for l.Written()+l.Dropped() == before {
			runtime.Gosched()
		}
	}
	step(false, false, false, "ok1")
	step(true, false, false, "lost1")
	step(true, false, false, "lost2") // same failure streak: not reported again
	step(false, true, false, "lost3")
	step(false, false, false, "ok2")
	step(true, false, false, "lost4") // a new streak: reported
	step(false, false, true, "lost5") // half a line written
	step(false, false, false, "ok3")
	if err := l.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if l.Written() != 3 || l.Dropped() != 5 {
		t.Errorf("written %d, dropped %d; want 3 and 5", l.Written(), l.Dropped())
	}
	mu.Lock()
	if len(reported) != 2 || !strings.Contains(reported[0], "disk full") {
		t.Errorf("reported %q, want two write failures", reported)
	}
	mu.Unlock()
	// The half line is cut off by a newline: every whole line still parses.
	data := w.Bytes()
	var ids []string
	for _, ln := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
		if strings.HasSuffix(ln, "}") {
			e := parseLines(t, []byte(ln+"\n"))
			ids = append(ids, e[0].DecisionID)
		}
	}
	if fmt.Sprint(ids) != "[ok1 ok2 ok3]" {
		t.Errorf("whole lines %v; output:\n%s", ids, data)
	}
}

// TestWriteBatch: a batch bigger than lineChunk is written in several writes of whole
// lines, in order; an unreadable snapshot costs its own line only; an unreadable length
// costs the rest of the batch; and once Close gives up, the rest is dropped after the
// write in progress.
func TestWriteBatch(t *testing.T) {
	e := newEncoder(nil)
	pad := strings.Repeat("p", 1000)
	var batch []byte
	const n = 3000 // about 3 MiB of lines
	for i := range n {
		b, _ := snapshotOf(e, &Record{Decision: Deny, DecisionID: fmt.Sprint(i), PrincipalAttr: map[string]any{"pad": pad}})
		if i == 7 {
			b[len(b)-1] ^= 0x80 // the latency varint no longer ends
		}
		batch = append(batch, b...)
	}
	newWriter := func() (*writer, *countingWriter) {
		out := &countingWriter{}
		return &writer{l: &Logger{}, w: out, enc: lineEncoder{encoder: e}}, out
	}

	w, out := newWriter()
	w.writeBatch(batch, n)
	lines := parseLines(t, out.Bytes())
	if len(lines) != n-1 || w.l.Written() != n-1 || w.l.Dropped() != 1 {
		t.Fatalf("%d lines, written %d, dropped %d; want %d, %d, 1", len(lines), w.l.Written(), w.l.Dropped(), n-1, n-1)
	}
	for i, want := 0, 0; i < len(lines); i, want = i+1, want+1 {
		if want == 7 {
			want++
		}
		if lines[i].DecisionID != fmt.Sprint(want) {
			t.Fatalf("line %d is decision %s, want %d", i, lines[i].DecisionID, want)
		}
	}
	if writes := out.writes.Load(); writes < 3 {
		t.Errorf("%d writes for %d bytes of lines, want one per MiB or so", writes, len(out.Bytes()))
	}

	w, out = newWriter()
	w.writeBatch(batch[:len(batch)-10], n) // the last snapshot cut short
	if w.l.Written() != n-2 || w.l.Dropped() != 2 {
		t.Errorf("cut batch: written %d, dropped %d; want %d and 2", w.l.Written(), w.l.Dropped(), n-2)
	}

	w, out = newWriter()
	w.l.abandon.Store(true)
	w.writeBatch(batch, n)
	if got := len(parseLines(t, out.Bytes())); got == 0 || got >= n/2 || w.l.Written() != uint64(got) || w.l.Written()+w.l.Dropped() != n {
		t.Errorf("abandoned: %d lines, written %d, dropped %d", got, w.l.Written(), w.l.Dropped())
	}
}
