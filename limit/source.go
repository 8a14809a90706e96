package limit

import (
	"encoding/binary"
	"math/bits"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/sluicelog/sluice/diode"
)

// SourceID returns the source_id of one marshaled Envelope, read from the
// wire bytes without decoding: it steps over the top-level fields (nested
// messages and maps are skipped by their length, never read) and, as
// protobuf does, the last source_id wins, so a second source_id cannot
// evade a limit. The string shares b's memory and nothing is allocated.
// Bytes that are not a valid top-level protobuf message give "": SourceID
// expects what an ingress.Server passes on, which it has already validated
// in full (envelope.ReadRoute).
//
// The loop handles the layout every Envelope has (one-byte tags, lengths
// of one or two bytes, varints of up to nine) inline; anything else goes
// to the general reader (sourceIDSlow), which gives the same answer.
func SourceID(b []byte) string {
	lo, hi := 0, 0 // the source_id is b[lo:hi]
	i := 0
	for i < len(b) {
		c := b[i]
		if c&0x87 == 2 && c >= 8 && i+1 < len(b) && b[i+1] < 0x80 {
			// The common case: a field of bytes shorter than 128.
			j := i + 2
			l := int(b[i+1])
			if l > len(b)-j {
				return ""
			}
			if c == 2<<3|2 {
				lo, hi = j, j+l
			}
			i = j + l
			continue
		}
		if c >= 0x80 || c < 8 { // a longer tag, or field number 0
			return sourceIDSlow(b[i:], b[lo:hi])
		}
		switch c & 7 {
		case 0: // varint (the timestamp): find the byte without the high bit
			if len(b)-i <= 9 {
				return sourceIDSlow(b[i:], b[lo:hi])
			}
			if m := ^binary.LittleEndian.Uint64(b[i+1:]) & 0x8080808080808080; m != 0 {
				i += 2 + bits.TrailingZeros64(m)>>3
			} else if b[i+9] < 0x80 { // nine bytes, as a timestamp of today has
				i += 10
			} else {
				return sourceIDSlow(b[i:], b[lo:hi])
			}
		case 2: // a length of two bytes or more
			if i+2 >= len(b) {
				return ""
			}
			if b[i+2] >= 0x80 {
				return sourceIDSlow(b[i:], b[lo:hi])
			}
			j := i + 3
			l := int(b[i+1])&0x7f | int(b[i+2])<<7
			if l > len(b)-j {
				return ""
			}
			if c == 2<<3|2 {
				lo, hi = j, j+l
			}
			i = j + l
		case 1:
			if i += 9; i > len(b) {
				return ""
			}
		case 5:
			if i += 5; i > len(b) {
				return ""
			}
		default: // groups, or not protobuf
			return sourceIDSlow(b[i:], b[lo:hi])
		}
	}
	return unsafeString(b[lo:hi])
}

// sourceIDSlow is SourceID for any protobuf layout: it goes on from b with
// id the source_id read so far.
func sourceIDSlow(b, id []byte) string {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return ""
		}
		b = b[n:]
		m := protowire.ConsumeFieldValue(num, typ, b)
		if m < 0 {
			return ""
		}
		if num == 2 && typ == protowire.BytesType {
			v, _ := protowire.ConsumeBytes(b)
			id = v
		}
		b = b[m:]
	}
	return unsafeString(id)
}

// NewFair returns a diode.Fair buffer of marshaled Envelopes that shares
// its room fairly between source IDs (read with SourceID): the buffer an
// ingress.Server feeds, when one flooding source must not cost the others
// their envelopes. Its signature fits wherever a buffer constructor is
// taken.
func NewFair(size int, opts ...diode.Option) (diode.Buffer[[]byte], error) {
	f, err := diode.NewFair(size, SourceID, opts...)
	if err != nil {
		return nil, err
	}
	return &sourceFair{f}, nil
}

// sourceFair is a diode.Fair keyed by SourceID. Its type tells a Limiter
// and an ingress.Server that the source ID they have read is the buffer's
// key (SetKeyed, SetBatch), which a diode.Fair with some other key
// function would not take.
type sourceFair struct{ *diode.Fair[[]byte] }
