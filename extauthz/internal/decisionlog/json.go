package decisionlog

import (
	"encoding/binary"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// maxDepth bounds the nesting of attribute values, so a cyclic map cannot recurse forever.
const maxDepth = 32

const hexDigits = "0123456789abcdef"

// plain[c] is true for the ASCII bytes that JSON strings carry unescaped.
var plain = func() (t [utf8.RuneSelf]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// appendString appends s as a JSON string. Control characters, quotes and backslashes are
// escaped, each byte of invalid UTF-8 becomes \ufffd (as encoding/json does) and U+2028
// and U+2029 are escaped so the line is also valid JavaScript. HTML characters are kept.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		// Skip eight plain ASCII bytes at a time.
		for i+8 <= len(s) && plainWord(binary.LittleEndian.Uint64([]byte(s[i:i+8]))) {
			i += 8
		}
		if i >= len(s) {
			break
		}
		c := s[i]
		if c < utf8.RuneSelf {
			if plain[c] {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// plainWord reports whether all eight bytes of x are plain ASCII: none below 0x20, none
// from 0x80, no quote, no backslash. It uses the word tests of "Bit Twiddling Hacks":
// (x - n*ones) & ^x & highs is non-zero exactly when some byte of x is below n (n ≤ 128);
// a byte equal to c is a byte of x^(c*ones) below 1.
func plainWord(x uint64) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	below := (x - 0x20*ones) & ^x & highs
	quote := x ^ '"'*ones
	quote = (quote - ones) & ^quote & highs
	slash := x ^ '\\'*ones
	slash = (slash - ones) & ^slash & highs
	return (below | quote | slash | x&highs) == 0
}

// appendFloat appends f as encoding/json does; NaN and infinities, which JSON cannot
// carry, become the strings "NaN", "+Inf" and "-Inf".
func appendFloat(b []byte, f float64, bits int) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return appendString(b, strconv.FormatFloat(f, 'g', -1, bits))
	}
	if bits == 64 && f >= -1e15 && f <= 1e15 && f == float64(int64(f)) && (f != 0 || !math.Signbit(f)) {
		return strconv.AppendInt(b, int64(f), 10) // what 'f' gives for integers, faster
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (bits == 64 && (abs < 1e-6 || abs >= 1e21) ||
		bits == 32 && (float32(abs) < 1e-6 || float32(abs) >= 1e21)) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, bits)
	if format == 'e' { // 1e-07 → 1e-7
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}

// appendObject appends an attribute map with sorted keys, redacting secret names.
func (e *encoder) appendObject(ln *line, m map[string]any, depth int) {
	start := len(ln.kvs)
	for k, v := range m {
		ln.kvs = append(ln.kvs, kv{k, v})
	}
	end := len(ln.kvs)
	sortKVs(ln.kvs[start:end])
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
			e.appendValue(ln, p.v, depth+1)
		}
	}
	ln.b = append(ln.b, '}')
	clear(ln.kvs[start:end]) // keep no reference to the caller's data
	ln.kvs = ln.kvs[:start]
}

// kv is a map entry being sorted.
type kv struct {
	k string
	v any
}

// sortKVs sorts by key: insertion sort for the small maps attributes are, else the
// library's sort.
func sortKVs(s []kv) {
	if len(s) > 12 {
		slices.SortFunc(s, func(a, b kv) int { return strings.Compare(a.k, b.k) })
		return
	}
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j].k < s[j-1].k; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

// appendValue appends a JSON-like attribute value.
func (e *encoder) appendValue(ln *line, v any, depth int) {
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
		e.appendObject(ln, x, depth)
	case []any:
		ln.b = append(ln.b, '[')
		for i, el := range x {
			if i > 0 {
				ln.b = append(ln.b, ',')
			}
			e.appendValue(ln, el, depth+1)
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
		e.appendOther(ln, v, depth)
	}
}

// appendOther encodes the types attributes do not normally hold, through reflection:
// maps with string keys and lists keep their structure (so redaction by name still
// applies), numbers stay numbers, and anything else is printed with %v as a string.
func (e *encoder) appendOther(ln *line, v any, depth int) {
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
				e.appendValue(ln, rv.MapIndex(k).Interface(), depth+1)
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
			e.appendValue(ln, rv.Index(i).Interface(), depth+1)
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
		e.appendValue(ln, rv.Elem().Interface(), depth+1)
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
