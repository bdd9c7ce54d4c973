package decisionlog

import (
	"encoding/binary"
	"fmt"
	"math"
	"reflect"
	"sync"
	"time"
)

// A snapshot is what Log keeps of a Record: a compact copy of everything the line will
// show, built on the caller's goroutine without sorting, redacting or escaping anything,
// which the writer goroutine later turns into the JSON line (see lineEncoder). It holds no
// reference to the Record: strings are copied, and values that the line prints with %v or
// through a String or Error method are rendered to strings here, while the caller still
// owns them.
//
// The format, all integers little-endian:
//
//	snapshot  = u32(len(record)) record
//	record    = varint(unix seconds) uvarint(nanoseconds)
//	            str(DecisionID) str(TraceID) str(SpanID) str(Decision) varint(Status)
//	            str(Reason) str(Route) str(Method) str(Path without its query)
//	            str(PrincipalID) uvarint(len(Roles)) str(role)… str(IdentitySource)
//	            attrs(PrincipalAttr) str(ResourceKind) str(ResourceID) attrs(ResourceAttr)
//	            str(Action) str(MatchedPolicy) str(MatchedRule) str(MatchedScope)
//	            str(PolicySetHash) varint(Latency)
//	attrs     = tagNull (no attributes) | object
//	str       = uvarint(len) bytes
//	value     = tagNull | tagFalse | tagTrue | tagTooDeep
//	          | tagString str | tagInt varint | tagUint uvarint
//	          | tagFloat64 u64(bits) | tagFloat32 u32(bits)
//	          | tagTime varint(unix seconds) uvarint(nanoseconds)
//	          | object | list
//	object    = tagObject u32(len(entries)) entries     entries = (str(key) value)…, map order
//	list      = tagList u32(len(values)) values
//
// Objects and lists carry their length in bytes so that the encoder can step over a value
// (to sort the entries of an object, or to leave out a secret one) without reading it.
// The nesting limit of attribute values (maxDepth) applies here: a value beyond it is
// tagTooDeep, so a cyclic map ends.

// Tags of snapshot values.
const (
	tagNull byte = iota
	tagFalse
	tagTrue
	tagTooDeep
	tagString // a string the line redacts when it is credential-shaped
	tagInt
	tagUint
	tagFloat64
	tagFloat32
	tagTime
	tagObject
	tagList
)

// snap builds the snapshot of one record. Log takes one from a pool and puts it back.
type snap struct {
	b []byte
	// secret, when set, leaves out the values of secret attribute names (tagNull in their
	// place), as the line does: Log retries with it when a value's String method panicked,
	// since the line would never have shown (or rendered) that value if its name is secret.
	secret *encoder
}

// maxPooledSnap keeps the rare huge snapshot from pinning its buffer in the pool.
const maxPooledSnap = 64 << 10

var snapPool = sync.Pool{New: func() any { return &snap{b: make([]byte, 0, 1024)} }}

func putSnap(s *snap) {
	if cap(s.b) > maxPooledSnap {
		return
	}
	s.b, s.secret = s.b[:0], nil
	snapPool.Put(s)
}

// take replaces s.b with the snapshot of r. When a value's String method panics, it
// tries once more leaving out the values of secret names (e's), which the line would not
// have shown: a panicking value under a secret name does not cost the line. False if the
// second try panicked too.
func (s *snap) take(r *Record, e *encoder) bool {
	return s.try(r, nil) || s.try(r, e)
}

// try replaces s.b with the snapshot of r, leaving out the values of secret's names if
// secret is set; false if that panicked.
func (s *snap) try(r *Record, secret *encoder) (ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	s.secret = secret
	s.b = s.record(s.b[:0], r)
	return true
}

// record appends the snapshot of r, its u32 length included.
func (s *snap) record(b []byte, r *Record) []byte {
	start := len(b) + 4
	b = append(b, 0, 0, 0, 0)
	t := r.Time
	if t.IsZero() {
		t = time.Now()
	}
	b = binary.AppendVarint(b, t.Unix())
	b = binary.AppendUvarint(b, uint64(t.Nanosecond()))
	b = appendStr(b, r.DecisionID)
	b = appendStr(b, r.TraceID)
	b = appendStr(b, r.SpanID)
	b = appendStr(b, r.Decision)
	b = binary.AppendVarint(b, int64(r.Status))
	b = appendStr(b, r.Reason)
	b = appendStr(b, r.Route)
	b = appendStr(b, r.Method)
	b = appendStr(b, withoutQuery(r.Path))
	b = appendStr(b, r.PrincipalID)
	b = binary.AppendUvarint(b, uint64(len(r.Roles)))
	for _, role := range r.Roles {
		b = appendStr(b, role)
	}
	b = appendStr(b, r.IdentitySource)
	b = s.attrs(b, r.PrincipalAttr)
	b = appendStr(b, r.ResourceKind)
	b = appendStr(b, r.ResourceID)
	b = s.attrs(b, r.ResourceAttr)
	b = appendStr(b, r.Action)
	b = appendStr(b, r.MatchedPolicy)
	b = appendStr(b, r.MatchedRule)
	b = appendStr(b, r.MatchedScope)
	b = appendStr(b, r.PolicySetHash)
	b = binary.AppendVarint(b, int64(r.Latency))
	return setLen(b, start)
}

// setLen fills in the u32 length, reserved just before start, of what follows start. A
// length beyond 32 bits, possible only in a snapshot far larger than maxPendingBytes
// (which Log drops), is left wrong; the encoder rejects what it then cannot read.
func setLen(b []byte, start int) []byte {
	binary.LittleEndian.PutUint32(b[start-4:start], uint32(len(b)-start))
	return b
}

// appendStr appends str(x): its length as a uvarint, then its bytes.
func appendStr(b []byte, x string) []byte {
	if len(x) < 0x80 {
		b = append(b, byte(len(x)))
	} else {
		b = binary.AppendUvarint(b, uint64(len(x)))
	}
	return append(b, x...)
}

func (s *snap) attrs(b []byte, m map[string]any) []byte {
	if len(m) == 0 {
		return append(b, tagNull)
	}
	return s.object(b, m, 0)
}

// object appends an attribute map as it iterates: the encoder sorts it.
func (s *snap) object(b []byte, m map[string]any, depth int) []byte {
	b = append(b, tagObject, 0, 0, 0, 0)
	start := len(b)
	for k, v := range m {
		b = appendStr(b, k)
		if s.secret != nil && s.secret.secret(k) {
			b = append(b, tagNull)
			continue
		}
		b = s.value(b, v, depth+1)
	}
	return setLen(b, start)
}

// value appends a JSON-like attribute value.
func (s *snap) value(b []byte, v any, depth int) []byte {
	if depth > maxDepth {
		return append(b, tagTooDeep)
	}
	switch x := v.(type) {
	case nil:
		return append(b, tagNull)
	case string:
		return appendStr(append(b, tagString), x)
	case bool:
		return appendBool(b, x)
	case float64:
		return binary.LittleEndian.AppendUint64(append(b, tagFloat64), math.Float64bits(x))
	case int:
		return appendInt(b, int64(x))
	case int64:
		return appendInt(b, x)
	case map[string]any:
		return s.object(b, x, depth)
	case []any:
		b = append(b, tagList, 0, 0, 0, 0)
		start := len(b)
		for _, el := range x {
			b = s.value(b, el, depth+1)
		}
		return setLen(b, start)
	case []string:
		b = append(b, tagList, 0, 0, 0, 0)
		start := len(b)
		for _, el := range x {
			b = appendStr(append(b, tagString), el)
		}
		return setLen(b, start)
	case time.Time:
		b = binary.AppendVarint(append(b, tagTime), x.Unix())
		return binary.AppendUvarint(b, uint64(x.Nanosecond()))
	}
	return s.other(b, v, depth)
}

func appendBool(b []byte, x bool) []byte {
	if x {
		return append(b, tagTrue)
	}
	return append(b, tagFalse)
}

func appendInt(b []byte, x int64) []byte {
	return binary.AppendVarint(append(b, tagInt), x)
}

// other takes the types attributes do not normally hold, through reflection: maps with
// string keys and lists keep their structure (so redaction by name still applies), numbers
// stay numbers, and anything else is printed with %v as a string, now.
func (s *snap) other(b []byte, v any, depth int) []byte {
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Map:
		if rv.Type().Key().Kind() != reflect.String {
			break
		}
		if rv.IsNil() {
			return append(b, tagNull)
		}
		b = append(b, tagObject, 0, 0, 0, 0)
		start := len(b)
		for it := rv.MapRange(); it.Next(); {
			k := it.Key().String()
			b = appendStr(b, k)
			if s.secret != nil && s.secret.secret(k) {
				b = append(b, tagNull)
				continue
			}
			b = s.value(b, it.Value().Interface(), depth+1)
		}
		return setLen(b, start)
	case reflect.Slice, reflect.Array:
		if rv.Kind() == reflect.Slice && rv.IsNil() {
			return append(b, tagNull)
		}
		b = append(b, tagList, 0, 0, 0, 0)
		start := len(b)
		for i := range rv.Len() {
			b = s.value(b, rv.Index(i).Interface(), depth+1)
		}
		return setLen(b, start)
	case reflect.Pointer, reflect.Interface:
		if rv.IsNil() {
			return append(b, tagNull)
		}
	}
	switch x := v.(type) {
	case fmt.Stringer:
		return appendStr(append(b, tagString), x.String())
	case error:
		return appendStr(append(b, tagString), x.Error())
	}
	switch rv.Kind() {
	case reflect.Pointer:
		return s.value(b, rv.Elem().Interface(), depth+1)
	case reflect.String:
		return appendStr(append(b, tagString), rv.String())
	case reflect.Bool:
		return appendBool(b, rv.Bool())
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return appendInt(b, rv.Int())
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return binary.AppendUvarint(append(b, tagUint), rv.Uint())
	case reflect.Float32:
		return binary.LittleEndian.AppendUint32(append(b, tagFloat32), math.Float32bits(float32(rv.Float())))
	case reflect.Float64:
		return binary.LittleEndian.AppendUint64(append(b, tagFloat64), math.Float64bits(rv.Float()))
	}
	return appendStr(append(b, tagString), fmt.Sprintf("%v", v))
}
