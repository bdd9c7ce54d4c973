package decisionlog

// The encoder as it was before records were snapshotted: it encoded the Record itself, on
// the caller's goroutine. It is kept here, and only here, as the oracle that the snapshot
// and its encoding must match byte for byte.

import (
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
)

// oracleLine is the old scratch space: the line and the map entries being sorted.
type oracleLine struct {
	b   []byte
	kvs []oracleKV
}

// oracleEncode is the line the old encoder gave for r.
func oracleEncode(e *encoder, r *Record) string {
	ln := &oracleLine{}
	e.oracleRecord(ln, r)
	return string(ln.b)
}

// appendRecord encodes r as one JSON line (newline included) into ln.b.
func (e *encoder) oracleRecord(ln *oracleLine, r *Record) {
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
		e.oracleObject(ln, r.PrincipalAttr, 0)
		b = ln.b
	}
	b = appendField(b, `,"resource_kind":`, r.ResourceKind)
	if r.ResourceID != "" {
		b = append(b, `,"resource_id":`...)
		b = appendFreeString(b, r.ResourceID)
	}
	if len(r.ResourceAttr) > 0 {
		ln.b = append(b, `,"resource_attr":`...)
		e.oracleObject(ln, r.ResourceAttr, 0)
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

// appendObject appends an attribute map with sorted keys, redacting secret names.
func (e *encoder) oracleObject(ln *oracleLine, m map[string]any, depth int) {
	start := len(ln.kvs)
	for k, v := range m {
		ln.kvs = append(ln.kvs, oracleKV{k, v})
	}
	end := len(ln.kvs)
	oracleSortKVs(ln.kvs[start:end])
	ln.b = append(ln.b, '{')
	for i := start; i < end; i++ {
		p := ln.kvs[i] // reread: nested maps may have grown (moved) ln.kvs
		if i > start {
			ln.b = append(ln.b, ',')
		}
		ln.b = appendString(ln.b, p.k)
		ln.b = append(ln.b, ':')
		if e.secret(p.k) {
			ln.b = appendString(ln.b, Redacted)
		} else {
			e.oracleValue(ln, p.v, depth+1)
		}
	}
	ln.b = append(ln.b, '}')
	clear(ln.kvs[start:end]) // keep no reference to the caller's data
	ln.kvs = ln.kvs[:start]
}

// oracleKV is a map entry being sorted.
type oracleKV struct {
	k string
	v any
}

// sortKVs sorts by key: insertion sort for the small maps attributes are, else the
// library's sort.
func oracleSortKVs(s []oracleKV) {
	if len(s) > 12 {
		slices.SortFunc(s, func(a, b oracleKV) int { return strings.Compare(a.k, b.k) })
		return
	}
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j].k < s[j-1].k; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

// appendValue appends a JSON-like attribute value.
func (e *encoder) oracleValue(ln *oracleLine, v any, depth int) {
	if depth > maxDepth {
		ln.b = appendString(ln.b, "[too deep]")
		return
	}
	switch x := v.(type) {
	case nil:
		ln.b = append(ln.b, "null"...)
	case string:
		ln.b = appendFreeString(ln.b, x)
	case bool:
		ln.b = strconv.AppendBool(ln.b, x)
	case float64:
		ln.b = appendFloat(ln.b, x, 64)
	case int:
		ln.b = strconv.AppendInt(ln.b, int64(x), 10)
	case int64:
		ln.b = strconv.AppendInt(ln.b, x, 10)
	case map[string]any:
		e.oracleObject(ln, x, depth)
	case []any:
		ln.b = append(ln.b, '[')
		for i, el := range x {
			if i > 0 {
				ln.b = append(ln.b, ',')
			}
			e.oracleValue(ln, el, depth+1)
		}
		ln.b = append(ln.b, ']')
	case []string:
		ln.b = append(ln.b, '[')
		for i, el := range x {
			if i > 0 {
				ln.b = append(ln.b, ',')
			}
			ln.b = appendFreeString(ln.b, el)
		}
		ln.b = append(ln.b, ']')
	case time.Time:
		ln.b = append(ln.b, '"')
		ln.b = x.UTC().AppendFormat(ln.b, time.RFC3339Nano)
		ln.b = append(ln.b, '"')
	default:
		e.oracleOther(ln, v, depth)
	}
}

// appendOther encodes the types attributes do not normally hold, through reflection:
// maps with string keys and lists keep their structure (so redaction by name still
// applies), numbers stay numbers, and anything else is printed with %v as a string.
func (e *encoder) oracleOther(ln *oracleLine, v any, depth int) {
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Map:
		if rv.Type().Key().Kind() != reflect.String {
			break
		}
		if rv.IsNil() {
			ln.b = append(ln.b, "null"...)
			return
		}
		keys := rv.MapKeys()
		slices.SortFunc(keys, func(a, b reflect.Value) int { return strings.Compare(a.String(), b.String()) })
		ln.b = append(ln.b, '{')
		for i, k := range keys {
			if i > 0 {
				ln.b = append(ln.b, ',')
			}
			ln.b = appendString(ln.b, k.String())
			ln.b = append(ln.b, ':')
			if e.secret(k.String()) {
				ln.b = appendString(ln.b, Redacted)
			} else {
				e.oracleValue(ln, rv.MapIndex(k).Interface(), depth+1)
			}
		}
		ln.b = append(ln.b, '}')
		return
	case reflect.Slice, reflect.Array:
		if rv.Kind() == reflect.Slice && rv.IsNil() {
			ln.b = append(ln.b, "null"...)
			return
		}
		ln.b = append(ln.b, '[')
		for i := range rv.Len() {
			if i > 0 {
				ln.b = append(ln.b, ',')
			}
			e.oracleValue(ln, rv.Index(i).Interface(), depth+1)
		}
		ln.b = append(ln.b, ']')
		return
	case reflect.Pointer, reflect.Interface:
		if rv.IsNil() {
			ln.b = append(ln.b, "null"...)
			return
		}
	}
	switch x := v.(type) {
	case fmt.Stringer:
		ln.b = appendFreeString(ln.b, x.String())
		return
	case error:
		ln.b = appendFreeString(ln.b, x.Error())
		return
	}
	switch rv.Kind() {
	case reflect.Pointer:
		e.oracleValue(ln, rv.Elem().Interface(), depth+1)
	case reflect.String:
		ln.b = appendFreeString(ln.b, rv.String())
	case reflect.Bool:
		ln.b = strconv.AppendBool(ln.b, rv.Bool())
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		ln.b = strconv.AppendInt(ln.b, rv.Int(), 10)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		ln.b = strconv.AppendUint(ln.b, rv.Uint(), 10)
	case reflect.Float32:
		ln.b = appendFloat(ln.b, rv.Float(), 32)
	case reflect.Float64:
		ln.b = appendFloat(ln.b, rv.Float(), 64)
	default:
		ln.b = appendFreeString(ln.b, fmt.Sprintf("%v", v))
	}
}
