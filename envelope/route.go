package envelope

import (
	"encoding/binary"
	"errors"
	"fmt"
	"unicode/utf8"
	"unsafe"

	"google.golang.org/protobuf/encoding/protowire"
)

// ErrMalformed is returned (wrapped) for wire bytes that are not a valid
// marshaled Envelope or EnvelopeBatch. Test for it with errors.Is.
var ErrMalformed = errors.New("envelope: malformed wire bytes")

// Route is what a router needs from one marshaled Envelope, read without
// unmarshalling it: the source ID, the kind, and the metric names that
// selectors and deterministic names look at.
//
// A Route refers to the bytes it was read from (its strings share their
// memory): it stays valid as long as those bytes are not modified, which is
// how sluice treats wire bytes everywhere.
type Route struct {
	// SourceID is the envelope's source_id.
	SourceID string
	// Kind is the message the envelope carries.
	Kind Kind
	// Name is the counter's name for KindCounter and the timer's name for
	// KindTimer; "" otherwise.
	Name string

	raw     []byte // the envelope
	gaugeAt int    // offset in raw of the first field of the current gauge, -1 if none
}

// ReadRoute reads the routing fields of one marshaled Envelope. It accepts
// exactly the inputs that proto.Unmarshal accepts for an Envelope (it checks
// every nested message, UTF-8 in every string, and skips unknown fields as
// protobuf does) and agrees with it on every field it returns; for anything
// else it returns an error wrapping ErrMalformed. It does not allocate.
func ReadRoute(b []byte) (Route, error) {
	var r Route
	err := r.read(b, true)
	return r, err
}

// ReadRouteTrusted reads the routing fields of a marshaled Envelope that
// was validated before, by ReadRoute (an ingress server validates every
// envelope it accepts): it checks the framing of the top-level fields and
// of counter and timer names, but not UTF-8 or the contents of other nested
// messages, so it costs a fraction of ReadRoute. For every input ReadRoute
// accepts it returns the same Route; on input ReadRoute refuses it may
// return a Route or an error wrapping ErrMalformed, and never panics. It
// does not allocate.
func ReadRouteTrusted(b []byte) (Route, error) {
	var r Route
	err := r.read(b, false)
	return r, err
}

// read is ReadRoute into an existing Route, so hot loops can reuse one;
// check false skips the validation that ReadRouteTrusted leaves out.
func (r *Route) read(b []byte, check bool) error {
	*r = Route{raw: b, gaugeAt: -1}
	if r.readCommon(b, check) { // route_fast.go
		return nil
	}
	return r.readAll(b, check)
}

// readAll is read without the fast path: every input, every error.
func (r *Route) readAll(b []byte, check bool) error {
	*r = Route{raw: b, gaugeAt: -1}
	var kind Kind
	var name string
	for off := 0; off < len(b); {
		var num protowire.Number
		var typ protowire.Type
		start := off
		if c := b[off]; c < 0x80 && c >= 0x08 { // one-byte tag, field number >= 1
			num, typ = protowire.Number(c>>3), protowire.Type(c&7)
			off++
		} else {
			var n int
			num, typ, n = consumeTag(b[off:])
			if n < 0 {
				return malformed("envelope", off, n)
			}
			off += n
		}
		if typ == protowire.BytesType {
			var v []byte
			if off < len(b) && b[off] < 0x80 && off+1+int(b[off]) <= len(b) { // one-byte length
				l := int(b[off])
				v = b[off+1 : off+1+l]
				off += 1 + l
			} else {
				var m int
				v, m = protowire.ConsumeBytes(b[off:])
				if m < 0 {
					return malformed("envelope", off, m)
				}
				off += m
			}
			switch num {
			case 2: // source_id
				if check && !validUTF8(v) {
					return errUTF8("source_id")
				}
				r.SourceID = str(v)
				continue
			case 8: // instance_id
				if check && !validUTF8(v) {
					return errUTF8("instance_id")
				}
				continue
			case 3: // deprecated_tags
				if !check {
					continue
				}
				if err := validate(v, &specValueMapEntry); err != nil {
					return fmt.Errorf("%w: deprecated_tags: %w", ErrMalformed, err)
				}
				continue
			case 9: // tags
				if !check || canonicalStringEntry(v) {
					continue
				}
				if err := validate(v, &specStringMapEntry); err != nil {
					return fmt.Errorf("%w: tags: %w", ErrMalformed, err)
				}
				continue
			case 4, 5, 6, 7, 10: // the message oneof
				k := oneofKind(num)
				if k != kind {
					// Setting another member of a oneof clears the old one;
					// a repeated occurrence of the same member merges.
					kind, name = k, ""
					if k == KindGauge {
						r.gaugeAt = start
					}
				}
				var err error
				switch k {
				case KindLog:
					if check && !canonicalLog(v) {
						err = validate(v, &specLog)
					}
				case KindCounter, KindTimer:
					spec := &specCounter
					if k == KindTimer {
						spec = &specTimer
					}
					var nm string
					var ok bool
					nm, ok, err = readName(v, spec)
					if ok {
						name = nm
					}
				case KindGauge:
					if check {
						err = validate(v, &specGauge)
					}
				case KindEvent:
					if check {
						err = validate(v, &specEvent)
					}
				}
				if err != nil {
					return fmt.Errorf("%w: %s: %w", ErrMalformed, k, err)
				}
				continue
			}
			continue // unknown field, or a known one with another wire type
		}
		if num == 1 && typ == protowire.VarintType { // timestamp
			if m := shortVarint(b[off:]); m > 0 {
				off += m
				continue
			}
			_, m := protowire.ConsumeVarint(b[off:])
			if m < 0 {
				return malformed("timestamp", off, m)
			}
			off += m
			continue
		}
		m := protowire.ConsumeFieldValue(num, typ, b[off:])
		if m < 0 {
			return malformed("unknown field", off, m)
		}
		off += m
	}
	r.finish(kind, name)
	return nil
}

// finish sets the kind read and what depends on it: the name of a counter
// or timer (the last the current member of the oneof had), and the offset
// of the gauge only for a gauge.
func (r *Route) finish(kind Kind, name string) {
	r.Kind = kind
	if kind == KindCounter || kind == KindTimer {
		r.Name = name
	}
	if kind != KindGauge {
		r.gaugeAt = -1
	}
}

// HasGaugeName reports whether the envelope is a gauge with a metric named
// name.
func (r *Route) HasGaugeName(name string) bool {
	found := false
	r.gaugeNames(func(n string) bool {
		if n == name {
			found = true
			return false
		}
		return true
	})
	return found
}

// GaugeNames appends the gauge's distinct metric names to dst, in wire order
// of first appearance.
func (r *Route) GaugeNames(dst []string) []string {
	base := len(dst)
	var seen map[string]struct{}
	r.gaugeNames(func(n string) bool {
		if seen == nil && len(dst)-base < 16 {
			for _, d := range dst[base:] {
				if d == n {
					return true
				}
			}
		} else {
			if seen == nil { // many names: switch to a set, stay linear
				seen = make(map[string]struct{}, 2*(len(dst)-base))
				for _, d := range dst[base:] {
					seen[d] = struct{}{}
				}
			}
			if _, dup := seen[n]; dup {
				return true
			}
			seen[n] = struct{}{}
		}
		dst = append(dst, n)
		return true
	})
	return dst
}

// NameHash returns a hash of the metric identity used for deterministic
// subscriptions: the counter or timer name, or the set of gauge metric names
// (independent of their order and of repeated keys on the wire). ok is false
// for logs, events and unknown kinds, which have no metric name. It is built
// on FNV-1a, so it is the same in every process, and its cost is linear in
// the size of the envelope whatever the input.
func (r *Route) NameHash() (h uint64, ok bool) {
	switch r.Kind {
	case KindCounter, KindTimer:
		return fnv(r.Name), true
	case KindGauge:
		// The smallest and largest per-name hashes identify the set without
		// sorting or deduplicating (both are quadratic or allocate, and a
		// gauge with many entries must not cost a router quadratic time).
		// Sets that share both extremes hash alike; that only skews balance.
		lo, hi := ^uint64(0), uint64(0)
		r.gaugeNames(func(n string) bool {
			x := fnv(n)
			lo, hi = min(lo, x), max(hi, x)
			return true
		})
		return mix(lo, hi), true
	}
	return 0, false
}

func mix(a, b uint64) uint64 {
	h := a ^ (b + 0x9e3779b97f4a7c15 + (a << 6) + (a >> 2))
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	return h
}

// gaugeNames calls yield with every map key of the current gauge (a name may
// repeat if the encoding repeats it) until yield returns false. The bytes
// were validated by read, so errors here only end the walk.
func (r *Route) gaugeNames(yield func(string) bool) {
	if r.Kind != KindGauge || r.gaugeAt < 0 {
		return
	}
	// Envelope field 6 (Gauge), then its field 1 (the metrics map entries).
	eachBytesField(r.raw[r.gaugeAt:], 6, func(gauge []byte) bool {
		return eachBytesField(gauge, 1, func(entry []byte) bool {
			key, _, _ := readName(entry, &specGaugeEntry)
			return yield(key)
		})
	})
}

// eachBytesField calls fn with the value of every length-delimited field
// number num of the message b, skipping other fields, until fn returns
// false (then it returns false) or b ends. b was validated by read, so a
// decoding error only ends the walk.
func eachBytesField(b []byte, num protowire.Number, fn func([]byte) bool) bool {
	for len(b) > 0 {
		n, typ, l := consumeTag(b)
		if l < 0 {
			return true
		}
		b = b[l:]
		if n != num || typ != protowire.BytesType {
			m := protowire.ConsumeFieldValue(n, typ, b)
			if m < 0 {
				return true
			}
			b = b[m:]
			continue
		}
		v, m := protowire.ConsumeBytes(b)
		if m < 0 {
			return true
		}
		b = b[m:]
		if !fn(v) {
			return false
		}
	}
	return true
}

func oneofKind(num protowire.Number) Kind {
	switch num {
	case 4:
		return KindLog
	case 5:
		return KindCounter
	case 6:
		return KindGauge
	case 7:
		return KindTimer
	}
	return KindEvent
}

// validUTF8 is utf8.Valid with the ASCII case inline: most strings on the
// wire (source IDs, tag names and values) are short and ASCII. Anything
// that is not all ASCII goes to utf8.Valid.
func validUTF8(v []byte) bool { return ascii(v) || utf8.Valid(v) }

// ascii reports whether no byte of v has its high bit set. It ORs v
// together a word (or half a word) at a time, the last load overlapping
// the one before instead of a byte loop for the tail, and tests once: a
// 36-byte source ID is five loads and one branch.
func ascii(v []byte) bool {
	const high = 0x8080808080808080
	n := len(v)
	if n >= 8 {
		acc := binary.LittleEndian.Uint64(v[n-8:])
		for i := 0; i+8 <= n; i += 8 {
			acc |= binary.LittleEndian.Uint64(v[i:])
		}
		return acc&high == 0
	}
	if n >= 4 {
		return (binary.LittleEndian.Uint32(v)|binary.LittleEndian.Uint32(v[n-4:]))&0x80808080 == 0
	}
	var acc byte
	for _, c := range v {
		acc |= c
	}
	return acc < 0x80
}

// canonicalStringEntry reports whether v is a map<string,string> entry in
// the encoding every marshaler produces (key field then value field, each
// with a one-byte length) with valid strings. false only means "take the
// general path", which decides. The tags and lengths are ASCII bytes, so
// one scan of the whole entry checks both strings when they are ASCII.
func canonicalStringEntry(v []byte) bool {
	if len(v) < 4 || v[0] != 0x0a || v[1] >= 0x80 {
		return false
	}
	k := 2 + int(v[1])
	if k+2 > len(v) || v[k] != 0x12 || v[k+1] >= 0x80 || k+2+int(v[k+1]) != len(v) {
		return false
	}
	return ascii(v) || (utf8.Valid(v[2:k]) && utf8.Valid(v[k+2:]))
}

// canonicalLog reports whether v is a Log in the encoding every marshaler
// produces: the payload (field 1, a length of at most two bytes) and then
// the type (field 2, a varint of at most nine bytes), each optional.
// Payload is bytes, not a string: nothing in it is checked. false only
// means "take the general path", which decides.
func canonicalLog(v []byte) bool {
	i := 0
	if len(v) >= 2 && v[0] == 0x0a {
		l, n := int(v[1]), 2
		if l >= 0x80 {
			if len(v) < 3 || v[2] >= 0x80 {
				return false
			}
			l, n = l&0x7f|int(v[2])<<7, 3
		}
		if l > len(v)-n {
			return false
		}
		i = n + l
	}
	if i < len(v) && v[i] == 0x10 {
		m := shortVarint(v[i+1:])
		if m < 0 {
			return false
		}
		i += 1 + m
	}
	return i == len(v)
}

// shortVarint returns the length of the varint b starts with when it ends
// within nine bytes (every such varint is valid), or -1: a longer or
// truncated one is left to protowire.
func shortVarint(b []byte) int {
	for i := 0; i < len(b) && i < 9; i++ {
		if b[i] < 0x80 {
			return i + 1
		}
	}
	return -1
}

// str returns a string sharing b's memory. Callers never modify wire bytes.
func str(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

func fnv(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}

// consumeTag reads a field tag as protobuf's decoder does: field numbers
// outside [1, 2^29-1] are errors.
func consumeTag(b []byte) (protowire.Number, protowire.Type, int) {
	if len(b) > 0 && b[0] < 0x80 {
		num := protowire.Number(b[0] >> 3)
		if num == 0 {
			return 0, 0, -1
		}
		return num, protowire.Type(b[0] & 7), 1
	}
	num, typ, n := protowire.ConsumeTag(b)
	if n < 0 {
		return 0, 0, n
	}
	if num > protowire.MaxValidNumber {
		return 0, 0, -1
	}
	return num, typ, n
}

// EndGroup tags at message level are rejected by ConsumeFieldValue (they
// return errCodeEndGroup), exactly as protobuf's decoder rejects them.

func malformed(what string, off, code int) error {
	return fmt.Errorf("%w: %s at byte %d: %w", ErrMalformed, what, off, protowire.ParseError(code))
}

func errUTF8(field string) error {
	return fmt.Errorf("%w: %s is not valid UTF-8", ErrMalformed, field)
}
