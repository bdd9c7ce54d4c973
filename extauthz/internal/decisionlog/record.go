package decisionlog

import (
	"strconv"
	"sync/atomic"
	"time"
)

// Decisions.
const (
	Allow = "allow"
	Deny  = "deny"
)

// Record is one check as the decision log sees it. Every field is optional except
// Decision; empty fields are left out of the line. Log copies what it needs, so the caller
// may reuse the Record, its slices and its maps as soon as Log returns.
type Record struct {
	// Time is when the check started; zero means now. It is written in UTC.
	Time       time.Time
	DecisionID string
	TraceID    string
	SpanID     string
	// Decision is Allow or Deny. Anything else is logged as it is and, like a denial,
	// never sampled out.
	Decision string
	// Status is the HTTP status Envoy answers with: 200 on allow, 400/401/403 on deny.
	Status int
	// Reason is the stable reason code (allowed, policy_denied, unauthenticated, …).
	Reason string
	Route  string
	Method string
	// Path is the canonical request path. Anything from the first "?" or "#" on is cut:
	// query strings carry tokens.
	Path           string
	PrincipalID    string
	Roles          []string
	IdentitySource string
	// PrincipalAttr and ResourceAttr hold JSON-like values (string, bool, float64, int,
	// int64, nil, []any, []string, map[string]any); secret names are redacted.
	PrincipalAttr map[string]any
	ResourceKind  string
	ResourceID    string
	ResourceAttr  map[string]any
	Action        string
	MatchedPolicy string
	MatchedRule   string
	MatchedScope  string
	PolicySetHash string
	// Latency is how long the check took; written as latency_us, in microseconds with up
	// to three decimals.
	Latency time.Duration
}

// appendLine appends the JSON line (newline included) of the record snapshot rec (without
// its u32 length). It returns b unchanged and false if rec cannot be read, which only a bug
// would cause.
func (e *lineEncoder) appendLine(b []byte, rec string) (out []byte, ok bool) {
	defer func() {
		if recover() != nil { // a bug, too; the writer goroutine must not die of it
			clear(e.kvs)
			e.kvs = e.kvs[:0]
			out, ok = b, false
		}
	}()
	return e.line(b, rec)
}

// line is appendLine without the safety net.
func (e *lineEncoder) line(b []byte, rec string) (out []byte, ok bool) {
	d := decoder{s: rec}
	sec, ns := d.varint(), d.uvarint()
	out = append(b, `{"time":"`...)
	out = appendTime(out, time.Unix(sec, int64(ns%1e9)))
	out = append(out, `","decision_id":`...)
	out = appendString(out, d.str())
	out = appendField(out, `,"trace_id":`, d.str())
	out = appendField(out, `,"span_id":`, d.str())
	out = append(out, `,"decision":`...)
	out = appendString(out, d.str())
	if status := d.varint(); status != 0 {
		out = append(out, `,"status":`...)
		out = strconv.AppendInt(out, status, 10)
	}
	out = appendField(out, `,"reason":`, d.str())
	out = appendField(out, `,"route":`, d.str())
	out = appendField(out, `,"method":`, d.str())
	out = appendField(out, `,"path":`, d.str())
	if id := d.str(); id != "" {
		out = append(out, `,"principal_id":`...)
		out = appendFreeString(out, id)
	}
	if n := d.uvarint(); n > 0 {
		out = append(out, `,"roles":[`...)
		for i := uint64(0); i < n && !d.bad; i++ {
			if i > 0 {
				out = append(out, ',')
			}
			out = appendString(out, d.str())
		}
		out = append(out, ']')
	}
	out = appendField(out, `,"identity_source":`, d.str())
	out = e.appendAttrs(out, `,"principal_attr":`, &d)
	out = appendField(out, `,"resource_kind":`, d.str())
	if id := d.str(); id != "" {
		out = append(out, `,"resource_id":`...)
		out = appendFreeString(out, id)
	}
	out = e.appendAttrs(out, `,"resource_attr":`, &d)
	out = appendField(out, `,"action":`, d.str())
	out = appendField(out, `,"matched_policy":`, d.str())
	out = appendField(out, `,"matched_rule":`, d.str())
	out = appendField(out, `,"matched_scope":`, d.str())
	out = appendField(out, `,"policy_set_hash":`, d.str())
	if latency := time.Duration(d.varint()); latency != 0 {
		out = append(out, `,"latency_us":`...)
		out = appendMicros(out, latency)
	}
	if d.bad || d.i != len(d.s) {
		return b, false
	}
	return append(out, '}', '\n'), true
}

// appendAttrs appends key and the attribute object that d reads next, unless there is
// none.
func (e *lineEncoder) appendAttrs(b []byte, key string, d *decoder) []byte {
	switch d.byte() {
	case tagNull:
		return b
	case tagObject:
		return e.appendObject(append(b, key...), d, 0)
	}
	d.bad = true
	return b
}

// withoutQuery cuts path at its first "?" or "#".
func withoutQuery(path string) string {
	for i := 0; i < len(path); i++ {
		if path[i] == '?' || path[i] == '#' {
			return path[:i]
		}
	}
	return path
}

// secondCache holds the formatted UTC second of the latest record: most records of a
// busy server share it with the one before.
var secondCache atomic.Pointer[formattedSecond]

type formattedSecond struct {
	unix int64
	text []byte // "2006-01-02T15:04:05"
}

// appendTime appends t in UTC as time.RFC3339Nano does.
func appendTime(b []byte, t time.Time) []byte {
	t = t.UTC()
	sec := t.Unix()
	c := secondCache.Load()
	if c == nil || c.unix != sec {
		c = &formattedSecond{sec, t.AppendFormat(nil, "2006-01-02T15:04:05")}
		secondCache.Store(c)
	}
	b = append(b, c.text...)
	if ns := t.Nanosecond(); ns != 0 {
		var digits [9]byte
		for i := 8; i >= 0; i-- {
			digits[i] = byte('0' + ns%10)
			ns /= 10
		}
		k := 9
		for digits[k-1] == '0' {
			k--
		}
		b = append(b, '.')
		b = append(b, digits[:k]...)
	}
	return append(b, 'Z')
}

// appendField appends key and the JSON string s, unless s is empty.
func appendField(b []byte, key, s string) []byte {
	if s == "" {
		return b
	}
	return appendString(append(b, key...), s)
}

// appendMicros appends d in microseconds, with the nanoseconds as up to three decimals.
func appendMicros(b []byte, d time.Duration) []byte {
	n := uint64(d)
	if d < 0 {
		b = append(b, '-')
		n = -n
	}
	b = strconv.AppendUint(b, n/1000, 10)
	frac := n % 1000
	if frac == 0 {
		return b
	}
	digits := [3]byte{byte('0' + frac/100), byte('0' + frac/10%10), byte('0' + frac%10)}
	k := 3
	for digits[k-1] == '0' {
		k--
	}
	b = append(b, '.')
	return append(b, digits[:k]...)
}
