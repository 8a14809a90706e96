package envelope

import (
	"encoding/binary"
	"math/bits"

	"google.golang.org/protobuf/encoding/protowire"
)

// readCommon is the validating read for the envelopes nearly every emitter
// sends: one-byte tags, lengths of one or two bytes, a timestamp of at most
// nine bytes, tags entries in the canonical encoding, logs in the canonical
// encoding, no deprecated_tags or unknown fields, and ASCII in every
// string. It reads such an envelope in one pass with no call for the
// common fields, OR-ing the bytes of every string together and testing the
// high bits once at the end instead of checking each string on its own.
// It returns false for anything else: read then starts over and decides,
// so the fast path changes no outcome and no error, only the cost of the
// inputs it accepts. Repeated fields and oneof members are handled as read
// handles them (the last source ID wins; another member of the oneof
// clears the name).
//
// With check false it is ReadRouteTrusted's fast path: it checks the
// framing alone, as read does then (tags, deprecated_tags, logs, gauges and
// events are skipped unread).
//
// On true, r holds what read would have set; on false, r.SourceID and
// r.gaugeAt may have been changed.
func (r *Route) readCommon(b []byte, check bool) bool {
	var (
		acc  uint64 // the OR of every byte of every string read
		kind Kind
		name string
	)
	for off := 0; off < len(b); {
		start := off
		c := b[off]
		off++
		if c == 0x08 { // timestamp: a varint of at most nine bytes
			if len(b)-off < 9 {
				return false
			}
			// The first byte without the continuation bit ends it.
			if m := ^binary.LittleEndian.Uint64(b[off:]) & 0x8080808080808080; m != 0 {
				off += bits.TrailingZeros64(m)/8 + 1
			} else if b[off+8] < 0x80 {
				off += 9
			} else {
				return false
			}
			continue
		}
		num := c >> 3
		if c&7 != 2 || c >= 0x80 || off >= len(b) { // every other field: length-delimited
			return false
		}
		l := int(b[off])
		off++
		if l >= 0x80 {
			if off >= len(b) || b[off] >= 0x80 {
				return false
			}
			l = l&0x7f | int(b[off])<<7
			off++
		}
		if l > len(b)-off {
			return false
		}
		v := b[off : off+l]
		off += l
		switch num {
		case 9: // tags entry
			if !check {
				continue
			}
			// key (field 1) then value (field 2), each with a one-byte
			// length; tags and lengths are ASCII, so the whole entry is
			// OR-ed in as it stands.
			if len(v) < 4 || v[0] != 0x0a || v[1] >= 0x80 {
				return false
			}
			k := 2 + int(v[1])
			if k+2 > len(v) || v[k] != 0x12 || v[k+1] >= 0x80 || k+2+int(v[k+1]) != len(v) {
				return false
			}
			acc |= orBytes(v)
		case 2: // source_id
			if check {
				acc |= orBytes(v)
			}
			r.SourceID = str(v)
		case 8: // instance_id
			if check {
				acc |= orBytes(v)
			}
		case 3: // deprecated_tags: unchecked, skipped; checked, the general path
			if check {
				return false
			}
		case 4, 5, 6, 7, 10: // the message oneof
			k := oneofKind(protowire.Number(num))
			if k != kind {
				kind, name = k, ""
				if k == KindGauge {
					r.gaugeAt = start
				}
			}
			switch k {
			case KindLog:
				if check && !canonicalLog(v) {
					return false
				}
			case KindCounter, KindTimer:
				spec := &specCounter
				if k == KindTimer {
					spec = &specTimer
				}
				nm, ok, err := readName(v, spec)
				if err != nil {
					return false
				}
				if ok {
					name = nm
				}
			case KindGauge:
				if check && validate(v, &specGauge) != nil {
					return false
				}
			default:
				if check && validate(v, &specEvent) != nil {
					return false
				}
			}
		default: // unknown fields: the general path
			return false
		}
	}
	if acc&0x8080808080808080 != 0 {
		return false
	}
	r.finish(kind, name)
	return true
}

// orBytes returns the OR of v's bytes, spread over the bytes of a word:
// only its high bits mean anything (any set: v is not ASCII). Like ascii it
// loads a word at a time, the last load overlapping the one before.
func orBytes(v []byte) uint64 {
	n := len(v)
	if n >= 8 {
		acc := binary.LittleEndian.Uint64(v[n-8:])
		for i := 0; i+8 <= n; i += 8 {
			acc |= binary.LittleEndian.Uint64(v[i:])
		}
		return acc
	}
	if n >= 4 {
		return uint64(binary.LittleEndian.Uint32(v) | binary.LittleEndian.Uint32(v[n-4:]))
	}
	var acc uint64
	for _, c := range v {
		acc |= uint64(c)
	}
	return acc
}

// nextEnvelope is SplitBatch's fast path: when b starts with an envelope
// field (field 1, length-delimited) whose length takes one or two bytes
// and fits in b, it returns the envelope (capacity limited to its length)
// and the bytes the field takes; otherwise 0, and SplitBatch's general
// path decides.
func nextEnvelope(b []byte) ([]byte, int) {
	if len(b) < 3 || b[0] != 0x0a {
		return nil, 0
	}
	l, n := int(b[1]), 2
	if l >= 0x80 {
		if b[2] >= 0x80 {
			return nil, 0
		}
		l, n = l&0x7f|int(b[2])<<7, 3
	}
	if l > len(b)-n {
		return nil, 0
	}
	return b[n : n+l : n+l], n + l
}
