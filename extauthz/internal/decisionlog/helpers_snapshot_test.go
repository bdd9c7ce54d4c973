package decisionlog

import (
	"errors"
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"time"
)

// snapshotOf is the snapshot Log takes of r (u32 length included); ok is false if taking
// it panicked even after leaving out secret values.
func snapshotOf(e *encoder, r *Record) (b []byte, ok bool) {
	s := &snap{}
	if !s.take(r, e) {
		return nil, false
	}
	return s.b, true
}

// encodeRecord is the line of r the way Log and the writer make it: snapshot, then
// encoding; "" if either failed.
func encodeRecord(e *encoder, r *Record) string {
	b, ok := snapshotOf(e, r)
	if !ok {
		return ""
	}
	i := 0
	rec, ok := nextSnapshot(string(b), &i)
	if !ok || i != len(b) {
		return ""
	}
	out, ok := (&lineEncoder{encoder: e}).appendLine(nil, rec)
	if !ok {
		return ""
	}
	return string(out)
}

// snapshotValue is the snapshot of one attribute value at depth 0.
func snapshotValue(v any) string {
	return string((&snap{}).value(nil, v, 0))
}

// encodeValue is the JSON of one attribute value, through its snapshot. It also returns
// the encoder, whose entry stack must be empty again.
func encodeValue(e *encoder, v any) (string, *lineEncoder) {
	le := &lineEncoder{encoder: e}
	d := decoder{s: snapshotValue(v)}
	out := le.appendValue(nil, &d, 0)
	if d.bad || d.i != len(d.s) {
		return "<unreadable snapshot>", le
	}
	return string(out), le
}

// mutateRecord changes every field of r.
func mutateRecord(r *Record) {
	rv := reflect.ValueOf(r).Elem()
	for i := range rv.NumField() {
		if f := rv.Field(i); f.Kind() == reflect.String {
			f.SetString("changed")
		}
	}
	r.Time = r.Time.Add(time.Hour)
	r.Status++
	r.Latency++
	if r.PrincipalAttr != nil {
		r.PrincipalAttr["email"] = "changed"
	}
}

// randomAttr builds an attribute value of any kind the encoder handles, secret names and
// credential-shaped strings included.
func randomAttr(r *rand.Rand, depth int) any {
	kinds := 24
	if depth > 3 {
		kinds = 16 // no more containers
	}
	switch r.IntN(kinds) {
	case 0:
		return nil
	case 1:
		return r.IntN(2) == 0
	case 2:
		return []float64{0, math.Copysign(0, -1), math.NaN(), math.Inf(1), 1e21, 1e-7, 3, r.NormFloat64()}[r.IntN(8)]
	case 3:
		return r.NormFloat64() * math.Pow(10, float64(r.IntN(40)-20))
	case 4:
		return randomText(r)
	case 5:
		return r.IntN(2000) - 1000
	case 6:
		return r.Int64() - r.Int64()
	case 7:
		return time.Unix(r.Int64N(1<<36)-1<<35, r.Int64N(1e9)).In(time.FixedZone("z", 3600*(r.IntN(5)-2)))
	case 8:
		return float32(r.NormFloat64())
	case 9:
		return []any{uint16(r.IntN(1 << 16)), int8(r.IntN(256) - 128), myFloat(r.Float64()), myString(randomText(r)), myBool(true)}[r.IntN(5)]
	case 10:
		return []any{stringer{randomText(r)}, failure{}, pair{r.IntN(9), 1}, map[int]string{1: "x"}, errors.New("Bearer xyzzy-plugh")}[r.IntN(5)]
	case 11:
		n := r.IntN(100)
		return []any{&n, (*int)(nil), []int(nil), map[string]int(nil), [2]bool{true, false}, []byte("ab")}[r.IntN(6)]
	case 12:
		s := make([]string, r.IntN(3))
		for i := range s {
			s[i] = randomText(r)
		}
		return s
	case 13:
		return map[string]string{randomKey(r): randomText(r), randomKey(r): randomText(r)}
	case 14:
		return map[string][]int{randomKey(r): {1, 2}}
	case 15:
		return uint64(r.Uint64())
	case 16, 17, 18, 19:
		l := make([]any, r.IntN(4))
		for i := range l {
			l[i] = randomAttr(r, depth+1)
		}
		return l
	default:
		return randomAttrs(r, depth+1)
	}
}

func randomAttrs(r *rand.Rand, depth int) map[string]any {
	m := map[string]any{}
	for range r.IntN(6) {
		m[randomKey(r)] = randomAttr(r, depth)
	}
	if r.IntN(20) == 0 { // deep nesting, past the limit
		var v any = "leaf"
		for range maxDepth + r.IntN(4) - 1 {
			v = map[string]any{randomKey(r): v}
		}
		m["deep"] = v
	}
	if r.IntN(40) == 0 {
		m["self"] = m
	}
	if r.IntN(40) == 0 {
		m["password"] = panicky{} // never shown: the line is logged
	}
	if r.IntN(80) == 0 {
		m["boom"] = panicky{} // shown: the line is dropped
	}
	return m
}

var secretKeys = []string{"Authorization", "x-api-key", "csrf_token", "user_SSN", "clientSecret", "Set-Cookie", "tokens", "author"}

func randomKey(r *rand.Rand) string {
	if r.IntN(5) == 0 {
		return secretKeys[r.IntN(len(secretKeys))]
	}
	return randomString(r)
}

// randomText is a random string, sometimes shaped like a credential.
func randomText(r *rand.Rand) string {
	switch r.IntN(8) {
	case 0:
		return "Bearer " + randomString(r) + "x"
	case 1:
		return "eyJ" + randomString(r) + "." + randomString(r)
	case 2:
		return strings.Repeat(randomString(r), 30) // long: two-byte lengths
	}
	return randomString(r)
}

func randomRecord(r *rand.Rand) *Record {
	rec := &Record{
		Time:     time.Unix(r.Int64N(4e9), r.Int64N(1e9)*int64(r.IntN(2))),
		Decision: []string{Allow, Deny, randomText(r)}[r.IntN(3)],
		Status:   []int{0, 200, 403, r.IntN(1 << 20), -r.IntN(600)}[r.IntN(5)],
		Latency:  time.Duration(r.Int64N(1e10) - 1e3),
	}
	rv := reflect.ValueOf(rec).Elem()
	for i := range rv.NumField() {
		if f := rv.Field(i); f.Kind() == reflect.String && f.String() == "" && r.IntN(3) > 0 {
			f.SetString(randomText(r))
		}
	}
	if r.IntN(3) > 0 {
		rec.Path = "/p/" + randomText(r) + []string{"", "?access_token=x", "#frag?y", "?"}[r.IntN(4)]
	}
	for range r.IntN(3) {
		rec.Roles = append(rec.Roles, randomText(r))
	}
	if r.IntN(4) > 0 {
		rec.PrincipalAttr = randomAttrs(r, 0)
	}
	if r.IntN(4) > 0 {
		rec.ResourceAttr = randomAttrs(r, 0)
	}
	return rec
}
