package envelope

import (
	"fmt"

	"google.golang.org/protobuf/encoding/protowire"
)

// SplitBatch splits a marshaled EnvelopeBatch into the wire bytes of its
// envelopes, appended to dst, without copying or decoding them. The slices
// share b's memory. It checks the batch's own framing (unknown fields are
// skipped as protobuf does) but not the envelopes: read each with ReadRoute.
func SplitBatch(b []byte, dst [][]byte) ([][]byte, error) {
	for off := 0; off < len(b); {
		if e, n := nextEnvelope(b[off:]); n > 0 { // route_fast.go
			dst = append(dst, e)
			off += n
			continue
		}
		num, typ, n := consumeTag(b[off:])
		if n < 0 {
			return dst, malformed("batch", off, n)
		}
		off += n
		if num == 1 && typ == protowire.BytesType {
			v, m := protowire.ConsumeBytes(b[off:])
			if m < 0 {
				return dst, malformed("batch", off, m)
			}
			off += m
			dst = append(dst, v[:len(v):len(v)])
			continue
		}
		m := protowire.ConsumeFieldValue(num, typ, b[off:])
		if m < 0 {
			return dst, malformed("batch", off, m)
		}
		off += m
	}
	return dst, nil
}

// BatchSize returns the length of the EnvelopeBatch that AppendBatch builds
// from envs.
func BatchSize(envs [][]byte) int {
	n := 0
	for _, e := range envs {
		n += 1 + protowire.SizeVarint(uint64(len(e))) + len(e)
	}
	return n
}

// AppendBatch appends to dst a marshaled EnvelopeBatch holding envs, each the
// wire bytes of one Envelope, copied as they are (no re-encoding).
func AppendBatch(dst []byte, envs [][]byte) []byte {
	for _, e := range envs {
		dst = protowire.AppendTag(dst, 1, protowire.BytesType)
		dst = protowire.AppendBytes(dst, e)
	}
	return dst
}

// CheckBatch reads every envelope of a marshaled EnvelopeBatch with
// ReadRoute and reports the first that is malformed, naming its index.
func CheckBatch(b []byte) error {
	var r Route
	for off, i := 0, 0; off < len(b); {
		num, typ, n := consumeTag(b[off:])
		if n < 0 {
			return malformed("batch", off, n)
		}
		off += n
		if num == 1 && typ == protowire.BytesType {
			v, m := protowire.ConsumeBytes(b[off:])
			if m < 0 {
				return malformed("batch", off, m)
			}
			off += m
			if err := r.read(v, true); err != nil {
				return fmt.Errorf("envelope %d of batch: %w", i, err)
			}
			i++
			continue
		}
		m := protowire.ConsumeFieldValue(num, typ, b[off:])
		if m < 0 {
			return malformed("batch", off, m)
		}
		off += m
	}
	return nil
}
