package decisionlog

import (
	"bytes"
	"context"
	"encoding/binary"
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"
)

// tooDeepMark is what decodeValue gives for tagTooDeep.
type tooDeepMark struct{}

// decodeValue reads back one snapshot value as Go values: nil, bool, string, int64,
// uint64, float64, float32, time.Time, tooDeepMark, map[string]any, []any.
func decodeValue(t *testing.T, d *decoder) any {
	t.Helper()
	switch tag := d.byte(); tag {
	case tagNull:
		return nil
	case tagFalse:
		return false
	case tagTrue:
		return true
	case tagTooDeep:
		return tooDeepMark{}
	case tagString:
		return d.str()
	case tagInt:
		return d.varint()
	case tagUint:
		return d.uvarint()
	case tagFloat64:
		return math.Float64frombits(d.u64())
	case tagFloat32:
		return math.Float32frombits(d.u32())
	case tagTime:
		sec := d.varint()
		return time.Unix(sec, int64(d.uvarint())).UTC()
	case tagObject:
		body := decoder{s: d.body()}
		m := map[string]any{}
		for body.i < len(body.s) && !body.bad {
			k := body.str()
			m[k] = decodeValue(t, &body)
		}
		d.bad = d.bad || body.bad
		return m
	case tagList:
		body := decoder{s: d.body()}
		l := []any{}
		for body.i < len(body.s) && !body.bad {
			l = append(l, decodeValue(t, &body))
		}
		d.bad = d.bad || body.bad
		return l
	default:
		t.Fatalf("unknown tag %d", tag)
		return nil
	}
}

type (
	myFloat  float64
	myString string
	myBool   bool
)

type failure struct{}

func (failure) Error() string { return "it failed" }

// TestSnapshotRoundTrip: every kind of value comes back from its snapshot as the encoder
// will see it, and skip steps over exactly its bytes.
func TestSnapshotRoundTrip(t *testing.T) {
	n := 7
	var nilMap map[string]int
	when := time.Date(2025, 1, 2, 3, 4, 5, 6, time.FixedZone("x", 3600))
	long := strings.Repeat("é", 200) // a length that takes two varint bytes
	for _, tc := range []struct {
		in, want any
	}{
		{nil, nil},
		{"", ""},
		{"x\x00\xff", "x\x00\xff"},
		{long, long},
		{true, true},
		{false, false},
		{1.5, 1.5},
		{math.Copysign(0, -1), math.Copysign(0, -1)},
		{math.Inf(-1), math.Inf(-1)},
		{-3, int64(-3)},
		{int64(math.MinInt64), int64(math.MinInt64)},
		{int64(math.MaxInt64), int64(math.MaxInt64)},
		{int8(-8), int64(-8)},
		{int32(1 << 30), int64(1 << 30)},
		{uint8(255), uint64(255)},
		{uint64(math.MaxUint64), uint64(math.MaxUint64)},
		{uintptr(9), uint64(9)},
		{float32(0.1), float32(0.1)},
		{myFloat(2.5), 2.5},
		{myString("named"), "named"},
		{myBool(true), true},
		{when, when.UTC()},
		{time.Time{}, time.Time{}},
		{map[string]any{}, map[string]any{}},
		{map[string]any(nil), map[string]any{}},
		{map[string]any{"a": 1.0, "b": []any{nil, "c"}}, map[string]any{"a": 1.0, "b": []any{nil, "c"}}},
		{[]any(nil), []any{}},
		{[]string{"a", ""}, []any{"a", ""}},
		{[]string(nil), []any{}},
		{map[string]int{"x": 1}, map[string]any{"x": int64(1)}},
		{map[myString][]int{"k": {2}}, map[string]any{"k": []any{int64(2)}}},
		{nilMap, nil},
		{[]int(nil), nil},
		{[]byte("hi"), []any{uint64('h'), uint64('i')}},
		{[2]bool{true, false}, []any{true, false}},
		{&n, int64(7)},
		{(*int)(nil), nil},
		{stringer{"hi"}, "hi"},
		{failure{}, "it failed"},
		{pair{1, 2}, "{1 2}"},
		{map[int]string{1: "x"}, "map[1:x]"},
	} {
		s := snapshotValue(tc.in)
		d := decoder{s: s}
		got := decodeValue(t, &d)
		if d.bad || d.i != len(s) {
			t.Errorf("%#v: snapshot %q not read whole (bad %v, %d of %d bytes)", tc.in, s, d.bad, d.i, len(s))
			continue
		}
		if !reflect.DeepEqual(got, tc.want) && !(isNegZero(got) && isNegZero(tc.want)) {
			t.Errorf("%#v: snapshot gives %#v, want %#v", tc.in, got, tc.want)
		}
		sk := decoder{s: s}
		sk.skip()
		if sk.bad || sk.i != len(s) {
			t.Errorf("%#v: skip stepped over %d of %d bytes (bad %v)", tc.in, sk.i, len(s), sk.bad)
		}
	}
}

func isNegZero(v any) bool { f, ok := v.(float64); return ok && f == 0 && math.Signbit(f) }

// TestSnapshotDepthLimit: maps and lists nested beyond maxDepth end in tagTooDeep at the
// depth where the encoder used to write "[too deep]", and the encoder refuses a snapshot
// nested deeper than one can be.
func TestSnapshotDepthLimit(t *testing.T) {
	var m any = "leaf"
	var l any = "leaf"
	for range 2 * maxDepth {
		m = map[string]any{"n": m}
		l = []any{l}
	}
	for _, v := range []any{m, l} {
		d := decoder{s: snapshotValue(v)}
		got := decodeValue(t, &d)
		levels := 0
		for {
			if x, ok := got.(map[string]any); ok {
				got = x["n"]
			} else if x, ok := got.([]any); ok {
				got = x[0]
			} else {
				break
			}
			levels++
		}
		if got != (tooDeepMark{}) || levels != maxDepth+1 {
			t.Errorf("%T: %d levels, then %#v; want %d, then tagTooDeep", v, levels, got, maxDepth+1)
		}
	}

	// A snapshot nested deeper than the snapshotter ever writes: rejected, not recursed.
	var deep []byte
	for range 10 * maxDepth {
		deep = append(deep, tagList, 0, 0, 0, 0)
	}
	deep = append(deep, tagNull)
	for i := len(deep) - 1; i >= 0; i-- {
		if deep[i] == tagList && i+5 <= len(deep) && deep[i+1] == 0 && deep[i+2] == 0 && deep[i+3] == 0 && deep[i+4] == 0 {
			binary.LittleEndian.PutUint32(deep[i+1:], uint32(len(deep)-i-5))
		}
	}
	d := decoder{s: string(deep)}
	(&lineEncoder{encoder: newEncoder(nil)}).appendValue(nil, &d, 0)
	if !d.bad {
		t.Error("a snapshot nested deeper than maxDepth was accepted")
	}
}

// TestSnapshotKeepsNoReference: a record changed in every way right after Log returns is
// logged as it was when Log was called.
func TestSnapshotKeepsNoReference(t *testing.T) {
	var out syncBuffer
	l, err := New(Options{Stdout: &out, FlushInterval: MaxFlushInterval})
	if err != nil {
		t.Fatal(err)
	}
	state := &mutableStringer{s: "before"}
	raw := []byte("raw")
	nested := map[string]any{"k": "v", "list": []any{"a", 1.0}}
	r := fullRecord()
	r.PrincipalAttr["nested"] = nested
	r.PrincipalAttr["state"] = state
	r.PrincipalAttr["raw"] = raw
	r.PrincipalAttr["strings"] = []string{"s1", "s2"}
	r.ResourceAttr["typed"] = map[string]string{"t": "1"}
	want := oracleEncode(newEncoder(nil), r)
	l.Log(r)

	mutateRecord(r)
	nested["k"] = "changed"
	nested["list"].([]any)[0] = "changed"
	nested["new"] = 1.0
	state.s = "after"
	copy(raw, "RAW")
	r.PrincipalAttr["strings"].([]string)[0] = "changed"
	r.ResourceAttr["typed"].(map[string]string)["t"] = "2"
	delete(r.ResourceAttr, "owner")
	r.ResourceAttr["added"] = true
	r.ResourceAttr["tags"].([]any)[0] = "changed"
	r.Roles[0] = "admin"
	if err := l.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := string(out.Bytes()); got != want {
		t.Fatalf("line after the record changed:\n got %s\nwant %s", got, want)
	}
}

type mutableStringer struct{ s string }

func (m *mutableStringer) String() string { return m.s }

// oracleOrEmpty is the line the old encoder gave for r, or "" where it panicked (and Log
// dropped the record).
func oracleOrEmpty(e *encoder, r *Record) (line string) {
	defer func() {
		if recover() != nil {
			line = ""
		}
	}()
	return oracleEncode(e, r)
}

// TestSnapshotMatchesOldEncoder: for a corpus of records of every shape, the snapshot and
// its encoding give the very bytes the old encoder gave.
func TestSnapshotMatchesOldEncoder(t *testing.T) {
	e := newEncoder([]string{"ssn", "x-api-key"})
	r := rand.New(rand.NewPCG(9, 10))
	dropped := 0
	for i := range 5000 {
		rec := randomRecord(r)
		want := oracleOrEmpty(e, rec)
		if got := encodeRecord(e, rec); got != want {
			t.Fatalf("record %d:\n got %q\nwant %q", i, got, want)
		}
		if want == "" {
			dropped++
		}
	}
	if dropped == 0 || dropped > 500 {
		t.Errorf("%d of 5000 records had a panicking value: the corpus does not test that path", dropped)
	}
}

// TestLoggerMatchesOldEncoder: the same through a Logger, its queue and its writer.
func TestLoggerMatchesOldEncoder(t *testing.T) {
	redact := []string{"ssn"}
	var out syncBuffer
	const n = 3000
	l, err := New(Options{Stdout: &out, Redact: redact, QueueSize: n})
	if err != nil {
		t.Fatal(err)
	}
	e := newEncoder(redact)
	r := rand.New(rand.NewPCG(11, 12))
	var want strings.Builder
	lost := 0
	for range n {
		rec := randomRecord(r)
		rec.Decision = Deny // never sampled out
		line := oracleOrEmpty(e, rec)
		if line == "" {
			lost++
		}
		want.WriteString(line)
		l.Log(rec)
		mutateRecord(rec)
	}
	if err := l.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := string(out.Bytes()); got != want.String() {
		g, w := strings.Split(got, "\n"), strings.Split(want.String(), "\n")
		for i := range min(len(g), len(w)) {
			if g[i] != w[i] {
				t.Fatalf("line %d:\n got %s\nwant %s", i+1, g[i], w[i])
			}
		}
		t.Fatalf("%d lines, want %d", len(g), len(w))
	}
	if l.Written() != uint64(n-lost) || l.Dropped() != uint64(lost) {
		t.Errorf("written %d, dropped %d; want %d and %d", l.Written(), l.Dropped(), n-lost, lost)
	}
}

func TestPanickingSecretValueIsLogged(t *testing.T) {
	var out syncBuffer
	l, err := New(Options{Stdout: &out})
	if err != nil {
		t.Fatal(err)
	}
	l.Log(&Record{Decision: Deny, DecisionID: "1", PrincipalAttr: map[string]any{"password": panicky{}, "n": 1.0}})
	if err := l.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := string(out.Bytes()); !strings.Contains(got, `"principal_attr":{"n":1,"password":"[REDACTED]"}`) || l.Dropped() != 0 {
		t.Fatalf("output %q, dropped %d", got, l.Dropped())
	}
}

// FuzzSnapshotMatchesOldEncoder compares the two encoders on records built from the
// fuzzer's strings and a random shape.
func FuzzSnapshotMatchesOldEncoder(f *testing.F) {
	f.Add(uint64(1), "alice", "k", "Bearer x")
	f.Add(uint64(2), "\xff\u2028", "Authorization", "eyJ.x")
	f.Add(uint64(3), "", "", "")
	e := newEncoder([]string{"ssn"})
	f.Fuzz(func(t *testing.T, seed uint64, s, k, v string) {
		r := rand.New(rand.NewPCG(seed, 0))
		rec := randomRecord(r)
		rec.PrincipalID, rec.Path = s, s
		if rec.ResourceAttr == nil {
			rec.ResourceAttr = map[string]any{}
		}
		rec.ResourceAttr[k] = v
		rec.ResourceAttr[v] = []any{k, map[string]any{s: v}}
		if got, want := encodeRecord(e, rec), oracleOrEmpty(e, rec); got != want {
			t.Fatalf("\n got %q\nwant %q", got, want)
		}
	})
}

// FuzzLineDecoder feeds arbitrary bytes to the line encoder, without its safety net: it
// must reject them, never panic or loop, and accept only what it can write whole.
func FuzzLineDecoder(f *testing.F) {
	e := newEncoder(nil)
	for i, rec := range []*Record{fullRecord(), {Decision: Deny}} {
		b, _ := snapshotOf(e, rec)
		f.Add(b[4:])
		f.Add(b[4 : len(b)-i-1])
	}
	le := &lineEncoder{encoder: e}
	f.Fuzz(func(t *testing.T, rec []byte) {
		out, ok := le.line(nil, string(rec))
		if len(le.kvs) != 0 {
			t.Fatalf("entry stack not emptied: %d", len(le.kvs))
		}
		if ok && (!bytes.HasSuffix(out, []byte("}\n")) || bytes.Count(out, []byte("\n")) != 1) {
			t.Fatalf("accepted, but not one line: %q", out)
		}
	})
}
