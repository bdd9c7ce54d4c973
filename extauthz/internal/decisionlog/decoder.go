package decisionlog

import "encoding/binary"

// decoder reads a snapshot (see snapshot.go). It never reads past the end: a read that
// would sets bad and returns a zero value, and so does a malformed varint, so every loop
// over a snapshot ends. Strings it returns are substrings of s.
type decoder struct {
	s   string
	i   int
	bad bool
}

func (d *decoder) byte() byte {
	if d.i >= len(d.s) {
		d.bad = true
		return 0
	}
	c := d.s[d.i]
	d.i++
	return c
}

// uvarint reads what binary.AppendUvarint wrote.
func (d *decoder) uvarint() uint64 {
	var x uint64
	var shift uint
	for n := 0; n < binary.MaxVarintLen64 && d.i < len(d.s); n++ {
		c := d.s[d.i]
		d.i++
		if c < 0x80 {
			if n == binary.MaxVarintLen64-1 && c > 1 {
				break // overflows 64 bits
			}
			return x | uint64(c)<<shift
		}
		x |= uint64(c&0x7f) << shift
		shift += 7
	}
	d.bad = true
	return 0
}

// varint reads what binary.AppendVarint wrote.
func (d *decoder) varint() int64 {
	ux := d.uvarint()
	x := int64(ux >> 1)
	if ux&1 != 0 {
		x = ^x
	}
	return x
}

// fixed returns the next n bytes.
func (d *decoder) fixed(n uint64) string {
	if n > uint64(len(d.s)-d.i) {
		d.bad = true
		d.i = len(d.s)
		return ""
	}
	s := d.s[d.i : d.i+int(n)]
	d.i += int(n)
	return s
}

func (d *decoder) str() string { return d.fixed(d.uvarint()) }

func (d *decoder) u32() uint32 {
	b := d.fixed(4)
	if len(b) < 4 {
		return 0
	}
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
}

func (d *decoder) u64() uint64 {
	b := d.fixed(8)
	if len(b) < 8 {
		return 0
	}
	return uint64(b[0]) | uint64(b[1])<<8 | uint64(b[2])<<16 | uint64(b[3])<<24 |
		uint64(b[4])<<32 | uint64(b[5])<<40 | uint64(b[6])<<48 | uint64(b[7])<<56
}

// body returns the u32-length-prefixed bytes that follow (of a record, object or list).
func (d *decoder) body() string { return d.fixed(uint64(d.u32())) }

// skip steps over one value.
func (d *decoder) skip() {
	switch d.byte() {
	case tagNull, tagFalse, tagTrue, tagTooDeep:
	case tagString:
		d.str()
	case tagInt:
		d.varint()
	case tagTime:
		d.varint()
		d.uvarint()
	case tagUint:
		d.uvarint()
	case tagFloat64:
		d.fixed(8)
	case tagFloat32:
		d.fixed(4)
	case tagObject, tagList:
		d.body()
	default:
		d.bad = true
	}
}
