package decisionlog

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// pieces are the fragments random strings are built from: plain text, every kind of
// character JSON must escape, multi-byte UTF-8, U+2028/2029 and broken UTF-8.
var pieces = []string{
	"a", "Z", "0", " ", "<", ">", "&", "/", "\x7f", `"`, `\`, "\n", "\r", "\t", "\b", "\f",
	"\x00", "\x01", "\x1b", "\x1f", "é", "€", "😀", "\u2028", "\u2029", "\ufffd",
	"\x80", "\xff", "\xc3", "\xe2\x82", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xc0\xaf",
}

func randomString(r *rand.Rand) string {
	var sb strings.Builder
	for n := r.IntN(12); n > 0; n-- {
		sb.WriteString(pieces[r.IntN(len(pieces))])
	}
	return sb.String()
}

// checkString asserts that appendString(s) is valid JSON whose value is the one
// encoding/json gives for s, and that the output holds no raw control character or
// line/paragraph separator.
func checkString(t *testing.T, s string) {
	t.Helper()
	out := appendString(nil, s)
	if !json.Valid(out) {
		t.Fatalf("appendString(%q) = %s: not valid JSON", s, out)
	}
	var got string
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("appendString(%q) = %s: %v", s, out, err)
	}
	ref, _ := json.Marshal(s)
	var want string
	if err := json.Unmarshal(ref, &want); err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Fatalf("appendString(%q) decodes to %q, encoding/json's to %q", s, got, want)
	}
	if !utf8.Valid(out) {
		t.Fatalf("appendString(%q) = %q: invalid UTF-8", s, out)
	}
	for _, c := range out {
		if c < 0x20 {
			t.Fatalf("appendString(%q) = %q: raw control byte %#x", s, out, c)
		}
	}
	if bytes.ContainsRune(out, '\u2028') || bytes.ContainsRune(out, '\u2029') {
		t.Fatalf("appendString(%q) = %q: raw U+2028/U+2029", s, out)
	}
}

func TestAppendStringProperty(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		checkString(t, randomString(r))
	}
	// Arbitrary bytes, too.
	for range 5000 {
		b := make([]byte, r.IntN(64))
		for i := range b {
			b[i] = byte(r.UintN(256))
			if r.IntN(4) > 0 {
				b[i] = byte(' ' + r.UintN(95)) // mostly plain, so whole words are skipped
			}
		}
		checkString(t, string(b))
	}
}

func TestAppendStringExamples(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", `""`},
		{"plain <b>&</b>", `"plain <b>&</b>"`},
		{"q\"b\\s/", `"q\"b\\s/"`},
		{"\n\r\t\b\f\x00\x1f", `"\n\r\t\b\f\u0000\u001f"`},
		{"\u2028x\u2029", `"\u2028x\u2029"`},
		{"a\xffb\xc3", `"a\ufffdb\ufffd"`},
		{"é😀", `"é😀"`},
	} {
		if got := string(appendString(nil, tc.in)); got != tc.want {
			t.Errorf("appendString(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

func FuzzAppendString(f *testing.F) {
	for _, p := range pieces {
		f.Add(p)
	}
	f.Add("Bearer eyJ.x.y\u2028\xff")
	f.Fuzz(func(t *testing.T, s string) { checkString(t, s) })
}

// TestAppendFloat compares numbers with encoding/json byte for byte.
func TestAppendFloat(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	vals := []float64{0, math.Copysign(0, -1), 1, -1, 0.1, 1e-6, 9.99e-7, 1e-7, 1e20, 1e21, 123456789.125, math.MaxFloat64, math.SmallestNonzeroFloat64, 3}
	for range 5000 {
		vals = append(vals, math.Float64frombits(r.Uint64()))
		vals = append(vals, r.NormFloat64()*math.Pow(10, float64(r.IntN(60)-30)))
	}
	for _, f := range vals {
		if math.IsNaN(f) || math.IsInf(f, 0) {
			continue
		}
		want, _ := json.Marshal(f)
		if got := appendFloat(nil, f, 64); !bytes.Equal(got, want) {
			t.Fatalf("appendFloat(%v) = %s, encoding/json: %s", f, got, want)
		}
		f32 := float32(f)
		if math.IsInf(float64(f32), 0) {
			continue
		}
		want, _ = json.Marshal(f32)
		if got := appendFloat(nil, float64(f32), 32); !bytes.Equal(got, want) {
			t.Fatalf("appendFloat(float32 %v) = %s, encoding/json: %s", f32, got, want)
		}
	}
	for f, want := range map[float64]string{math.NaN(): `"NaN"`, math.Inf(1): `"+Inf"`, math.Inf(-1): `"-Inf"`} {
		if got := string(appendFloat(nil, f, 64)); got != want {
			t.Errorf("appendFloat(%v) = %s, want %s", f, got, want)
		}
	}
}

// randomValue builds a JSON-like attribute value without secret names or
// credential-shaped strings.
func randomValue(r *rand.Rand, depth int) any {
	n := 6
	if depth > 3 {
		n = 4
	}
	switch r.IntN(n) {
	case 0:
		return nil
	case 1:
		return r.IntN(2) == 0
	case 2:
		return r.NormFloat64() * 1e6
	case 3:
		return "v" + randomString(r)
	case 4:
		l := make([]any, r.IntN(4))
		for i := range l {
			l[i] = randomValue(r, depth+1)
		}
		return l
	default:
		m := map[string]any{}
		for range r.IntN(4) {
			m["k"+randomString(r)] = randomValue(r, depth+1)
		}
		return m
	}
}

// TestAppendValueMatchesEncodingJSON: JSON-like values encode to what encoding/json
// produces, up to key order (ours is sorted, deterministic).
func TestAppendValueMatchesEncodingJSON(t *testing.T) {
	e := newEncoder(nil)
	r := rand.New(rand.NewPCG(5, 6))
	for range 3000 {
		v := randomValue(r, 0)
		out, le := encodeValue(e, v)
		var got, want any
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Fatalf("%#v → %s: %v", v, out, err)
		}
		ref, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(ref, &want); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%#v\n got %s\nwant %s", v, out, ref)
		}
		if len(le.kvs) != 0 {
			t.Fatalf("entry stack not emptied: %v", le.kvs)
		}
	}
}

type stringer struct{ s string }

func (s stringer) String() string { return s.s }

type pair struct{ A, B int }

func TestAppendValueOtherTypes(t *testing.T) {
	e := newEncoder(nil)
	n := 7
	var nilMap map[string]int
	for _, tc := range []struct {
		in   any
		want string
	}{
		{int64(-3), `-3`},
		{int32(4), `4`},
		{uint8(5), `5`},
		{float32(0.1), `0.1`},
		{[]string{"a", "b"}, `["a","b"]`},
		{map[string]string{"b": "2", "a": "1"}, `{"a":"1","b":"2"}`},
		{map[string][]int{"x": {1, 2}}, `{"x":[1,2]}`},
		{nilMap, `null`},
		{[]int(nil), `null`},
		{[2]bool{true, false}, `[true,false]`},
		{&n, `7`},
		{(*int)(nil), `null`},
		{stringer{"hi"}, `"hi"`},
		{pair{1, 2}, `"{1 2}"`},
		{map[int]string{1: "x"}, `"map[1:x]"`},
		{math.Inf(1), `"+Inf"`},
	} {
		if got, _ := encodeValue(e, tc.in); got != tc.want {
			t.Errorf("appendValue(%#v) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

func TestAppendValueCycle(t *testing.T) {
	m := map[string]any{"a": 1.0}
	m["self"] = m
	got, _ := encodeValue(newEncoder(nil), m)
	if !json.Valid([]byte(got)) || !strings.Contains(got, `"[too deep]"`) {
		t.Fatalf("cyclic map: %s", got)
	}
}

func TestAppendMicros(t *testing.T) {
	for d, want := range map[int64]string{1: "0.001", 999: "0.999", 1000: "1", 1500: "1.5", 3250: "3.25", 12345678: "12345.678", -1500: "-1.5"} {
		if got := string(appendMicros(nil, time.Duration(d))); got != want {
			t.Errorf("appendMicros(%dns) = %s, want %s", d, got, want)
		}
	}
}
