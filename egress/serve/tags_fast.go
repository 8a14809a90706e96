package serve

import (
	"encoding/binary"
	"math/bits"
)

// One-byte tags of the top-level fields the fast rewrite looks for.
const (
	tagTags           = byte(fieldTags)<<3 | 2           // tags, length-delimited
	tagDeprecatedTags = byte(fieldDeprecatedTags)<<3 | 2 // deprecated_tags, length-delimited
)

// appendConvergedFast is appendConverged for the envelopes a router sends
// most: with preferred unset (Loggregator's default), tags whose entries
// are all in the form marshalers write (key, then value, lengths of one
// byte) and no deprecated tags; with preferred set, no deprecated tags (the
// envelope passes unchanged). It reads the envelope once, field by field,
// inline, and writes the same bytes the general rewrite writes: the other
// fields in order, then the moved entries. false (dst then holds a partial
// write past its length) for anything else, which the general rewrite
// handles: a field tag over one byte, a length over two bytes, a group, an
// entry in another form, a field that stays beside fields that move, bytes
// that are not well-formed.
func (r *tagRewriter) appendConvergedFast(dst, b []byte, preferred bool) ([]byte, bool) {
	moved := r.moved[:0]
	run := 0 // where the fields not yet copied to dst begin
	for i := 0; i < len(b); {
		t := b[i]
		if t >= 0x80 || t < 8 {
			return dst, false // a tag of several bytes, or field 0
		}
		var n, at int // the field's length, where its value begins
		switch t & 7 {
		case 0: // varint
			n = varintEnd(b[i+1:])
			if n < 0 {
				return dst, false
			}
			n++
		case 1:
			n = 9
		case 5:
			n = 5
		case 2:
			if i+1 >= len(b) {
				return dst, false
			}
			if l := b[i+1]; l < 0x80 {
				n, at = 2+int(l), 2
			} else if i+2 < len(b) && b[i+2] < 0x80 {
				n, at = 3+(int(l&0x7f)|int(b[i+2])<<7), 3
			} else {
				return dst, false
			}
		default:
			return dst, false // groups
		}
		if n > len(b)-i {
			return dst, false
		}
		switch {
		case t == tagDeprecatedTags:
			// With preferred set it moves, unset it stays: both are
			// left to the general rewrite.
			return dst, false
		case t == tagTags && !preferred:
			// The entry key, value as marshalers write it: 0x0a, k, key,
			// 0x12, v, value; moved, the value is wrapped in a Value
			// (0x0a, v, value): two bytes more, as long as every length
			// still takes one byte (appendTextEntry's short form).
			e := b[i+at : i+n]
			if len(e) < 4 || e[0] != 0x0a || len(e) >= 0x80-2 {
				return dst, false
			}
			k := int(e[1])
			if k+4 > len(e) || e[2+k] != 0x12 || int(e[3+k])+4+k != len(e) {
				return dst, false
			}
			if run < i {
				dst = append(dst, b[run:i]...)
			}
			run = i + n
			moved = append(moved, tagDeprecatedTags, byte(len(e)+2))
			moved = append(moved, e[:3+k]...)
			moved = append(moved, e[3+k]+2, byte(valueText)<<3|2)
			moved = append(moved, e[3+k:]...)
		}
		i += n
	}
	dst = append(dst, b[run:]...)
	dst = append(dst, moved...)
	r.moved = moved
	return dst, true
}

// varintEnd returns the length of the varint at the start of b, or -1
// when b does not start with one of at most 9 bytes (63 bits: a 10-byte
// varint is left to protowire, which checks it for overflow).
func varintEnd(b []byte) int {
	if len(b) >= 9 {
		// The first of eight bytes without the continuation bit; a
		// timestamp in nanoseconds takes nine.
		if stop := ^binary.LittleEndian.Uint64(b) & 0x8080808080808080; stop != 0 {
			return bits.TrailingZeros64(stop)/8 + 1
		}
		if b[8] < 0x80 {
			return 9
		}
		return -1
	}
	for k := range b {
		if b[k] < 0x80 {
			return k + 1
		}
	}
	return -1
}
