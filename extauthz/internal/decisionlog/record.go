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

// appendRecord encodes r as one JSON line (newline included) into ln.b.
func (e *encoder) appendRecord(ln *line, r *Record) {
	b := ln.b
	t := r.Time
	if t.IsZero() {
		t = time.Now()
	}
	b = append(b, `{"time":"`...)
	b = appendTime(b, t)
	b = append(b, `","decision_id":`...)
	b = appendString(b, r.DecisionID)
	b = appendField(b, `,"trace_id":`, r.TraceID)
	b = appendField(b, `,"span_id":`, r.SpanID)
	b = append(b, `,"decision":`...)
	b = appendString(b, r.Decision)
	if r.Status != 0 {
		b = append(b, `,"status":`...)
		b = strconv.AppendInt(b, int64(r.Status), 10)
	}
	b = appendField(b, `,"reason":`, r.Reason)
	b = appendField(b, `,"route":`, r.Route)
	b = appendField(b, `,"method":`, r.Method)
	b = appendField(b, `,"path":`, withoutQuery(r.Path))
	if r.PrincipalID != "" {
		b = append(b, `,"principal_id":`...)
		b = appendFreeString(b, r.PrincipalID)
	}
	if len(r.Roles) > 0 {
		b = append(b, `,"roles":[`...)
		for i, role := range r.Roles {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, role)
		}
		b = append(b, ']')
	}
	b = appendField(b, `,"identity_source":`, r.IdentitySource)
	if len(r.PrincipalAttr) > 0 {
		ln.b = append(b, `,"principal_attr":`...)
		e.appendObject(ln, r.PrincipalAttr, 0)
		b = ln.b
	}
	b = appendField(b, `,"resource_kind":`, r.ResourceKind)
	if r.ResourceID != "" {
		b = append(b, `,"resource_id":`...)
		b = appendFreeString(b, r.ResourceID)
	}
	if len(r.ResourceAttr) > 0 {
		ln.b = append(b, `,"resource_attr":`...)
		e.appendObject(ln, r.ResourceAttr, 0)
		b = ln.b
	}
	b = appendField(b, `,"action":`, r.Action)
	b = appendField(b, `,"matched_policy":`, r.MatchedPolicy)
	b = appendField(b, `,"matched_rule":`, r.MatchedRule)
	b = appendField(b, `,"matched_scope":`, r.MatchedScope)
	b = appendField(b, `,"policy_set_hash":`, r.PolicySetHash)
	if r.Latency != 0 {
		b = append(b, `,"latency_us":`...)
		b = appendMicros(b, r.Latency)
	}
	ln.b = append(b, '}', '\n')
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
