package decisionlog

import (
	"context"
	"io"
	"testing"
	"time"
	"unsafe"
)

// benchRecord is a typical allow: a JWT principal with a few attributes, a document.
func benchRecord() *Record {
	return &Record{
		Time:           time.Now(),
		DecisionID:     "5f2c6c1e4c1a4d1f9a6e6d3c0f1e2a7b",
		TraceID:        "4bf92f3577b34da6a3ce929d0e0e4736",
		SpanID:         "00f067aa0ba902b7",
		Decision:       Allow,
		Status:         200,
		Reason:         "allowed",
		Route:          "document",
		Method:         "PUT",
		Path:           "/api/users/alice/documents/3",
		PrincipalID:    "alice",
		Roles:          []string{"user"},
		IdentitySource: "jwt",
		PrincipalAttr:  map[string]any{"email": "alice@example.com", "department": "sales", "tenant": "acme"},
		ResourceKind:   "document",
		ResourceID:     "3",
		ResourceAttr:   map[string]any{"owner": "alice", "status": "draft", "public": false, "size": 1024.0},
		Action:         "update",
		MatchedPolicy:  "resource.document.vdefault",
		MatchedRule:    "owner-may-edit",
		PolicySetHash:  "9c2e4f1a",
		Latency:        2750 * time.Nanosecond,
	}
}

// BenchmarkLog measures the request-path cost of Log (sampling, encoding, queueing); the
// writer goroutine writes to io.Discard. Run:
//
//	go test -run '^$' -bench Log -benchmem ./extauthz/internal/decisionlog
func BenchmarkLog(b *testing.B) {
	l, err := New(Options{Stdout: io.Discard})
	if err != nil {
		b.Fatal(err)
	}
	r := benchRecord()
	b.ReportAllocs()
	for b.Loop() {
		l.Log(r)
	}
	b.StopTimer()
	l.Close(context.Background())
	b.ReportMetric(float64(l.Dropped())/float64(b.N), "dropped/op")
}

// BenchmarkLogParallel is BenchmarkLog from GOMAXPROCS goroutines.
func BenchmarkLogParallel(b *testing.B) {
	l, err := New(Options{Stdout: io.Discard})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		r := benchRecord()
		for pb.Next() {
			l.Log(r)
		}
	})
	b.StopTimer()
	l.Close(context.Background())
	b.ReportMetric(float64(l.Dropped())/float64(b.N), "dropped/op")
}

// BenchmarkLogSampledOut is the cost of an allow left out by sampling.
func BenchmarkLogSampledOut(b *testing.B) {
	l, err := New(Options{Stdout: io.Discard, SampleRate: ptr(0.0)})
	if err != nil {
		b.Fatal(err)
	}
	r := benchRecord()
	b.ReportAllocs()
	for b.Loop() {
		l.Log(r)
	}
	b.StopTimer()
	l.Close(context.Background())
}

// BenchmarkSnapshot is the part of Log that copies the record: its request-path work
// besides sampling and queueing.
func BenchmarkSnapshot(b *testing.B) {
	e := newEncoder(nil)
	r := benchRecord()
	s := &snap{}
	b.ReportAllocs()
	for b.Loop() {
		s.take(r, e)
	}
	b.SetBytes(int64(len(s.b)))
}

// BenchmarkEncodeLine is the writer's work per line: the JSON line of a snapshot.
func BenchmarkEncodeLine(b *testing.B) {
	e := newEncoder([]string{"ssn"})
	snapshot, _ := snapshotOf(e, benchRecord())
	i := 0
	rec, _ := nextSnapshot(string(snapshot), &i)
	le := &lineEncoder{encoder: e}
	var out []byte
	b.ReportAllocs()
	for b.Loop() {
		out, _ = le.appendLine(out[:0], rec)
	}
	b.SetBytes(int64(len(out)))
}

// BenchmarkEncode is what Log did on the caller's goroutine before records were
// snapshotted, and what a line costs now on both sides: the snapshot, then the line.
func BenchmarkEncode(b *testing.B) {
	e := newEncoder([]string{"ssn"})
	r := benchRecord()
	s := &snap{}
	le := &lineEncoder{encoder: e}
	var out []byte
	b.ReportAllocs()
	for b.Loop() {
		s.take(r, e)
		i := 0
		rec, _ := nextSnapshot(unsafe.String(unsafe.SliceData(s.b), len(s.b)), &i) // as the writer reads a batch
		out, _ = le.appendLine(out[:0], rec)
	}
	b.SetBytes(int64(len(out)))
}

// BenchmarkOldEncode is the encoder Log ran before records were snapshotted (the oracle
// of the tests), for comparison with BenchmarkEncode and BenchmarkEncodeLine.
func BenchmarkOldEncode(b *testing.B) {
	e := newEncoder([]string{"ssn"})
	r := benchRecord()
	ln := &oracleLine{}
	b.ReportAllocs()
	for b.Loop() {
		ln.b = ln.b[:0]
		e.oracleRecord(ln, r)
	}
	b.SetBytes(int64(len(ln.b)))
}
