package limit

import (
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/sluicelog/sluice/diode"
)

// SourceID returns the source_id of one marshaled Envelope, read from the
// wire bytes without decoding: it steps over the top-level fields (nested
// messages and maps are skipped by their length, never read) and, as
// protobuf does, the last source_id wins. The string shares b's memory and
// nothing is allocated. Bytes that are not a valid Envelope give "" or what
// was read before the fault: SourceID expects what an ingress.Server passes
// on, which it has already validated in full (envelope.ReadRoute).
func SourceID(b []byte) string {
	var id []byte
	for len(b) > 0 {
		var (
			num protowire.Number
			typ protowire.Type
			n   int
		)
		if c := b[0]; c < 0x80 { // one-byte tag: field numbers 1..15
			num, typ, n = protowire.Number(c>>3), protowire.Type(c&7), 1
		} else if num, typ, n = protowire.ConsumeTag(b); n < 0 {
			return ""
		}
		b = b[n:]
		if typ == protowire.VarintType { // timestamp: skip to the last byte
			i := 0
			for i < len(b) && i < 10 && b[i] >= 0x80 {
				i++
			}
			if i == len(b) || i == 10 {
				return ""
			}
			b = b[i+1:]
			continue
		}
		if typ != protowire.BytesType {
			m := protowire.ConsumeFieldValue(num, typ, b)
			if m < 0 {
				return ""
			}
			b = b[m:]
			continue
		}
		var l uint64
		if len(b) > 0 && b[0] < 0x80 { // one-byte length
			l, n = uint64(b[0]), 1
		} else if l, n = protowire.ConsumeVarint(b); n < 0 {
			return ""
		}
		if l > uint64(len(b)-n) {
			return ""
		}
		if num == 2 {
			id = b[n : n+int(l)]
		}
		b = b[n+int(l):]
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
// that the source ID it has read is the buffer's key (SetKeyed), which a
// diode.Fair with some other key function would not take.
type sourceFair struct{ *diode.Fair[[]byte] }
