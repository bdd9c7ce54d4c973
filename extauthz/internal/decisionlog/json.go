package decisionlog

import (
	"encoding/binary"
	"math"
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

// lineEncoder turns snapshots into JSON lines: attribute maps sorted by key, secret names
// and credential-shaped strings redacted, strings escaped. The writer goroutine owns one;
// it is not safe for concurrent use.
type lineEncoder struct {
	*encoder
	kvs []kv // stack of object entries being sorted
}

// kv is an object entry being sorted: its key and the snapshot of its value.
type kv struct{ k, v string }

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

// appendObject appends the object snapshot that d reads next (after its tag), with
// sorted keys, redacting secret names.
func (e *lineEncoder) appendObject(b []byte, d *decoder, depth int) []byte {
	body := decoder{s: d.body()}
	start := len(e.kvs)
	for body.i < len(body.s) && !body.bad {
		k := body.str()
		v := body.i
		body.skip()
		e.kvs = append(e.kvs, kv{k, body.s[v:body.i]})
	}
	end := len(e.kvs)
	sortKVs(e.kvs[start:end])
	b = append(b, '{')
	for i := start; i < end && !body.bad; i++ {
		p := e.kvs[i] // reread: nested objects may have grown (moved) e.kvs
		if i > start {
			b = append(b, ',')
		}
		b = appendString(b, p.k)
		b = append(b, ':')
		if e.secret(p.k) {
			b = appendString(b, Redacted)
			continue
		}
		body.s, body.i = p.v, 0 // body is read: it now reads one value after the other
		b = e.appendValue(b, &body, depth+1)
	}
	clear(e.kvs[start:end])
	e.kvs = e.kvs[:start]
	d.bad = d.bad || body.bad
	return append(b, '}')
}

// appendValue appends the value snapshot that d reads next.
func (e *lineEncoder) appendValue(b []byte, d *decoder, depth int) []byte {
	if depth > maxDepth+1 { // the snapshot ends deeper values with tagTooDeep
		d.bad = true
		return b
	}
	switch d.byte() {
	case tagNull:
		return append(b, "null"...)
	case tagFalse:
		return append(b, "false"...)
	case tagTrue:
		return append(b, "true"...)
	case tagTooDeep:
		return appendString(b, "[too deep]")
	case tagString:
		return appendFreeString(b, d.str())
	case tagInt:
		return strconv.AppendInt(b, d.varint(), 10)
	case tagUint:
		return strconv.AppendUint(b, d.uvarint(), 10)
	case tagFloat64:
		return appendFloat(b, math.Float64frombits(d.u64()), 64)
	case tagFloat32:
		return appendFloat(b, float64(math.Float32frombits(d.u32())), 32)
	case tagTime:
		sec := d.varint()
		ns := d.uvarint()
		b = append(b, '"')
		b = time.Unix(sec, int64(ns%1e9)).UTC().AppendFormat(b, time.RFC3339Nano)
		return append(b, '"')
	case tagObject:
		return e.appendObject(b, d, depth)
	case tagList:
		body := decoder{s: d.body()}
		b = append(b, '[')
		for first := true; body.i < len(body.s) && !body.bad; first = false {
			if !first {
				b = append(b, ',')
			}
			b = e.appendValue(b, &body, depth+1)
		}
		d.bad = d.bad || body.bad
		return append(b, ']')
	}
	d.bad = true
	return b
}
