package serve

import (
	"fmt"
	"math"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/sluicelog/sluice/envelope"
)

// Field numbers of loggregator.v2.Envelope and its map entries that the tag
// rewrite reads.
const (
	fieldDeprecatedTags protowire.Number = 3 // map<string, Value>
	fieldTags           protowire.Number = 9 // map<string, string>
	entryKey            protowire.Number = 1
	entryValue          protowire.Number = 2
	valueText           protowire.Number = 1
	valueInteger        protowire.Number = 2
	valueDecimal        protowire.Number = 3
)

// convergeTags applies an EgressRequest's use_preferred_tags to one
// envelope's wire bytes, as Loggregator's reverse log proxy does for each
// subscriber:
//
//   - preferred: every deprecated tag is folded into tags as a string (text
//     as is, integers and decimals printed as Go's fmt.Sprint prints them),
//     winning over a tag of the same name, and deprecated_tags is emptied;
//     a deprecated tag whose value holds nothing is dropped.
//   - not preferred (the proto default): every tag is moved into
//     deprecated_tags as a text value, winning over a deprecated tag of the
//     same name, and tags is emptied.
//
// When there is nothing to move (no deprecated tag, or no tag) it returns
// b itself: the common case costs a scan of the top-level fields and no
// allocation. Otherwise it returns new bytes, never changing b (the same
// bytes may be on their way to other subscribers): the envelope's other
// fields byte for byte, then the entries that stay, then the moved ones.
// A later map entry wins over an earlier one of the same key when decoded,
// which is how the winners above are kept without decoding the envelope.
// What the byte rewrite does not handle (a deprecated tag whose value holds
// nothing: it must erase an earlier entry of its key; bytes that are not
// well-formed) takes the slow way, decoding and encoding the envelope;
// bytes that do not decode are returned unchanged; what is encoded again
// has its map entries sorted by key.
func convergeTags(b []byte, preferred bool) []byte {
	var r tagRewriter
	return r.converge(b, preferred)
}

// tagRewriter is convergeTags with reused storage: the envelopes it
// rewrites are appended to one buffer, so a stream that rewrites a batch at
// a time allocates nothing per envelope once its buffers have grown. What
// converge returns stays valid until reset.
type tagRewriter struct {
	buf         []byte // rewritten envelopes, back to back
	kept, moved []byte // one envelope's map entries, reused
}

// reset lets the next converge reuse the storage: every envelope converge
// returned since the last reset becomes invalid.
func (r *tagRewriter) reset() {
	r.buf, r.kept, r.moved = r.buf[:0], r.kept[:0], r.moved[:0]
}

// converge is convergeTags, appending a rewritten envelope to r.buf.
func (r *tagRewriter) converge(b []byte, preferred bool) []byte {
	first, stayBefore := findMoved(b, preferred)
	if first < 0 {
		return b
	}
	if need := len(b) + len(b)/4; cap(r.buf)-len(r.buf) < need {
		// A new, larger array; earlier envelopes stay in the old one.
		r.buf = make([]byte, 0, 2*cap(r.buf)+need)
	}
	start := len(r.buf)
	out, ok := r.rewrite(r.buf, b, first, stayBefore, preferred)
	if !ok {
		return convergeDecoded(b, preferred)
	}
	r.buf = out
	return out[start:len(out):len(out)]
}

// appendConverged appends to dst what converge returns for b: the
// envelope written once, where the caller sends it from (a Server writes
// it straight into the outgoing message).
func (r *tagRewriter) appendConverged(dst, b []byte, preferred bool) []byte {
	start := len(dst)
	if out, ok := r.appendConvergedFast(dst, b, preferred); ok {
		return out
	}
	dst = dst[:start]
	first, stayBefore := findMoved(b, preferred)
	if first < 0 {
		return append(dst, b...)
	}
	out, ok := r.rewrite(dst, b, first, stayBefore, preferred)
	if !ok {
		return append(out[:start], convergeDecoded(b, preferred)...)
	}
	return out
}

// movedFields returns the map field whose entries move and the one whose
// entries stay, for the setting preferred.
func movedFields(preferred bool) (move, stay protowire.Number) {
	if preferred {
		return fieldDeprecatedTags, fieldTags
	}
	return fieldTags, fieldDeprecatedTags
}

// findMoved returns where the first field to move is in b (-1: nothing to
// move, or bytes that are not well-formed before it), and whether a field
// that stays in its map comes before it.
//
// It runs once per envelope and subscriber on the way out, so it reads the
// top-level fields with scanField (no closure, one-byte tags and lengths
// read inline).
func findMoved(b []byte, preferred bool) (first int, stayBefore bool) {
	move, stay := movedFields(preferred)
	for i := 0; i < len(b); {
		num, typ, n, _ := scanField(b[i:])
		if n < 0 {
			return -1, false
		}
		if typ == protowire.BytesType {
			if num == move {
				return i, stayBefore
			}
			stayBefore = stayBefore || num == stay
		}
		i += n
	}
	return -1, false
}

// rewrite appends to out the envelope b with its tags moved, given what
// findMoved found: the envelope's other fields byte for byte (copied in
// runs, one append each), then the entries that stay, then the moved ones.
// false when b is not well-formed or holds what the byte rewrite leaves to
// convergeDecoded; out then holds a partial write past its length.
func (r *tagRewriter) rewrite(out, b []byte, first int, stayBefore, preferred bool) ([]byte, bool) {
	move, stay := movedFields(preferred)
	kept, moved := r.kept[:0], r.moved[:0]
	defer func() { r.kept, r.moved = kept, moved }()
	// run is where the fields not yet copied to out begin.
	i, run := 0, 0
	if !stayBefore {
		i = first // b[:first] is one run of other fields
	}
	for i < len(b) {
		num, typ, n, at := scanField(b[i:])
		if n < 0 {
			return out, false
		}
		if typ == protowire.BytesType && (num == stay || num == move) {
			out = append(out, b[run:i]...)
			run = i + n
			if num == stay {
				kept = append(kept, b[i:i+n]...)
			} else {
				var ok bool
				if moved, ok = appendMoved(moved, b[i+at:i+n], preferred); !ok {
					return out, false
				}
			}
		}
		i += n
	}
	out = append(out, b[run:]...)
	out = append(out, kept...)
	return append(out, moved...), true
}

// scanField reads the field at the start of b: its number, wire type, the
// length n of its whole encoding, and where its value begins (after the
// tag, and after the length of a length-delimited field). n < 0 when b does
// not start with a well-formed field. The common forms (a one-byte tag; a
// one-byte length, a short varint, a fixed value) are read inline; the rest
// by protowire, which decides what is well-formed.
func scanField(b []byte) (num protowire.Number, typ protowire.Type, n, at int) {
	if len(b) >= 2 && b[0] < 0x80 && b[0]>>3 != 0 {
		num, typ = protowire.Number(b[0]>>3), protowire.Type(b[0]&7)
		switch typ {
		case protowire.BytesType:
			if end := 2 + int(b[1]); b[1] < 0x80 && end <= len(b) {
				return num, typ, end, 2
			}
		case protowire.VarintType:
			for k := 1; k < min(len(b), 10); k++ { // up to 9 bytes: 63 bits
				if b[k] < 0x80 {
					return num, typ, k + 1, 1
				}
			}
		case protowire.Fixed64Type:
			if len(b) >= 9 {
				return num, typ, 9, 1
			}
		case protowire.Fixed32Type:
			if len(b) >= 5 {
				return num, typ, 5, 1
			}
		}
	}
	num, typ, t := protowire.ConsumeTag(b)
	if t < 0 {
		return 0, 0, -1, 0
	}
	m := protowire.ConsumeFieldValue(num, typ, b[t:])
	if m < 0 {
		return 0, 0, -1, 0
	}
	at = t
	if typ == protowire.BytesType {
		_, k := protowire.ConsumeVarint(b[t:])
		at += k
	}
	return num, typ, t + m, at
}

// convergeDecoded is convergeTags the slow way, for what the rewrite on
// bytes does not handle: it decodes, applies the rule and encodes. Bytes
// that do not decode are returned unchanged.
func convergeDecoded(b []byte, preferred bool) []byte {
	var e envelope.Envelope
	if proto.Unmarshal(b, &e) != nil {
		return b
	}
	if preferred {
		if e.Tags == nil {
			e.Tags = make(map[string]string, len(e.DeprecatedTags))
		}
		for k, v := range e.DeprecatedTags {
			switch d := v.GetData().(type) {
			case *envelope.Value_Text:
				e.Tags[k] = d.Text
			case *envelope.Value_Integer:
				e.Tags[k] = fmt.Sprint(d.Integer)
			case *envelope.Value_Decimal:
				e.Tags[k] = fmt.Sprint(d.Decimal)
			}
		}
		e.DeprecatedTags = nil
	} else {
		if e.DeprecatedTags == nil {
			e.DeprecatedTags = make(map[string]*envelope.Value, len(e.Tags))
		}
		for k, v := range e.Tags {
			e.DeprecatedTags[k] = &envelope.Value{Data: &envelope.Value_Text{Text: v}}
		}
		e.Tags = nil
	}
	// Deterministic: map entries sorted by key, so that the same
	// envelope gives the same bytes each time (to every subscriber).
	out, err := proto.MarshalOptions{Deterministic: true}.Marshal(&e)
	if err != nil {
		return b
	}
	return out
}

// eachField calls f for each field of the message b, in order, with its
// number, wire type, whole encoding (tag included) and value (the content
// of a length-delimited field, the encoded value of the others), until f
// returns false. It returns false when f did or b is not well-formed.
func eachField(b []byte, f func(num protowire.Number, typ protowire.Type, field, value []byte) bool) bool {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return false
		}
		m := protowire.ConsumeFieldValue(num, typ, b[n:])
		if m < 0 {
			return false
		}
		value := b[n : n+m]
		if typ == protowire.BytesType {
			value, _ = protowire.ConsumeBytes(value)
		}
		if !f(num, typ, b[:n+m], value) {
			return false
		}
		b = b[n+m:]
	}
	return true
}

// appendMoved appends the map entry entry, moved to the other map, to dst:
// a tags entry (string value) becomes a deprecated_tags entry whose Value
// holds the text; a deprecated_tags entry becomes a tags entry whose value
// is the Value as a string. It returns false for an entry that is not
// well-formed, or whose Value holds nothing (left to the slow way).
func appendMoved(dst, entry []byte, preferred bool) ([]byte, bool) {
	if !preferred {
		if key, val, ok := canonicalEntry(entry); ok {
			return appendTextEntry(dst, key, val), true
		}
	}
	var key, val []byte
	hasVal := false
	if !eachField(entry, func(num protowire.Number, typ protowire.Type, _, v []byte) bool {
		switch {
		case typ != protowire.BytesType:
		case num == entryKey:
			key = v
		case num == entryValue:
			val, hasVal = v, true
		}
		return true
	}) {
		return dst, false
	}
	// The entry is written straight into dst: key field, then value field.
	keyLen := protowire.SizeTag(entryKey) + protowire.SizeBytes(len(key))
	if preferred {
		str, ok := valueString(val)
		if !hasVal || !ok {
			return dst, false // no tag for an empty Value: the slow way
		}
		valLen := protowire.SizeTag(entryValue) + protowire.SizeBytes(len(str))
		dst = protowire.AppendTag(dst, fieldTags, protowire.BytesType)
		dst = protowire.AppendVarint(dst, uint64(keyLen+valLen))
		dst = appendField(dst, entryKey, key)
		return appendField(dst, entryValue, str), true
	}
	return appendTextEntry(dst, key, val), true
}

// canonicalEntry returns the key and value of a map<string,string> entry
// in the form every marshaler writes (key field, then value field, each
// with a one-byte length); false for any other form, which the general
// path reads.
func canonicalEntry(v []byte) (key, val []byte, ok bool) {
	if len(v) < 4 || v[0] != byte(entryKey)<<3|byte(protowire.BytesType) || v[1] >= 0x80 {
		return nil, nil, false
	}
	k := 2 + int(v[1])
	if k+2 > len(v) || v[k] != byte(entryValue)<<3|byte(protowire.BytesType) || v[k+1] >= 0x80 || k+2+int(v[k+1]) != len(v) {
		return nil, nil, false
	}
	return v[2:k], v[k+2:], true
}

// appendTextEntry appends a deprecated_tags entry: key, and a Value
// holding val as its text.
func appendTextEntry(dst, key, val []byte) []byte {
	if textLen := 2 + len(val); len(val) < 0x80 && 4+len(key)+textLen < 0x80 {
		// Every length fits in one byte (tags are short): written inline.
		dst = append(dst, byte(fieldDeprecatedTags)<<3|byte(protowire.BytesType), byte(4+len(key)+textLen),
			byte(entryKey)<<3|byte(protowire.BytesType), byte(len(key)))
		dst = append(dst, key...)
		dst = append(dst, byte(entryValue)<<3|byte(protowire.BytesType), byte(textLen),
			byte(valueText)<<3|byte(protowire.BytesType), byte(len(val)))
		return append(dst, val...)
	}
	textLen := protowire.SizeTag(valueText) + protowire.SizeBytes(len(val))
	entryLen := protowire.SizeTag(entryKey) + protowire.SizeBytes(len(key)) + protowire.SizeTag(entryValue) + protowire.SizeBytes(textLen)
	dst = append(dst, byte(fieldDeprecatedTags)<<3|byte(protowire.BytesType))
	dst = protowire.AppendVarint(dst, uint64(entryLen))
	dst = appendField(dst, entryKey, key)
	dst = append(dst, byte(entryValue)<<3|byte(protowire.BytesType))
	dst = protowire.AppendVarint(dst, uint64(textLen))
	return appendField(dst, valueText, val)
}

// appendField appends a length-delimited field.
func appendField(dst []byte, num protowire.Number, v []byte) []byte {
	dst = protowire.AppendTag(dst, num, protowire.BytesType)
	return protowire.AppendBytes(dst, v)
}

// valueString returns a loggregator.v2.Value's data as a string, as
// fmt.Sprint prints it (text as is, without a copy); false when no data is
// set. Of several data fields (a oneof), the last wins, as when decoding.
func valueString(v []byte) ([]byte, bool) {
	var s []byte
	ok := false
	wellFormed := eachField(v, func(num protowire.Number, typ protowire.Type, _, value []byte) bool {
		switch {
		case num == valueText && typ == protowire.BytesType:
			s, ok = value, true
		case num == valueInteger && typ == protowire.VarintType:
			x, _ := protowire.ConsumeVarint(value)
			s, ok = fmt.Append(nil, int64(x)), true
		case num == valueDecimal && typ == protowire.Fixed64Type:
			x, _ := protowire.ConsumeFixed64(value)
			s, ok = fmt.Append(nil, math.Float64frombits(x)), true
		}
		return true
	})
	return s, ok && wellFormed
}

// WithTagsUnchanged makes a Server send envelopes with their tags as they
// came, ignoring use_preferred_tags, as Loggregator's router (the doppler
// role) does; its reverse log proxy applies the rule. By default a Server
// applies it to every envelope (see the package doc, "Tags"), so that
// subscribers get Loggregator's tags from a router and from a proxy alike;
// applying it twice gives what applying it once gives.
func WithTagsUnchanged() ServerOption {
	return serverOptionFunc(func(c *serverConfig) { c.tagsUnchanged = true })
}
