package wire

import (
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
)

// batchEnvelopeTag is the tag of EnvelopeBatch.batch (field 1, bytes).
const batchEnvelopeTag = uint64(1)<<3 | uint64(protowire.BytesType)

// countEnvelopes counts the envelope fields of a marshaled EnvelopeBatch
// held in data, reading only the framing (tags and lengths) across its
// buffers, without copying it. false when the framing is not an
// EnvelopeBatch's as envelope.SplitBatch reads it (another field, a bad
// varint, a length beyond the end).
func countEnvelopes(data mem.BufferSlice) (int, bool) {
	c := cursor{data: data}
	for i := range data {
		c.left += len(data[i].ReadOnlyData())
	}
	if len(data) > 0 {
		c.cur = data[0].ReadOnlyData()
	}
	n := 0
	for c.left > 0 {
		// Most envelopes: the tag and a length of one or two bytes in the
		// current buffer.
		if b := c.cur; len(b) >= 3 && b[0] == byte(batchEnvelopeTag) {
			l, h := uint64(b[1]), 2
			if l >= 0x80 && b[2] < 0x80 {
				l, h = l&0x7f|uint64(b[2])<<7, 3
			}
			if l < 0x80 || h == 3 {
				if l > uint64(c.left-h) {
					return 0, false
				}
				c.cur, c.left = b[h:], c.left-h
				c.skip(int(l))
				n++
				continue
			}
		}
		tag, ok := c.uvarint()
		if !ok || tag != batchEnvelopeTag {
			return 0, false
		}
		l, ok := c.uvarint()
		if !ok || l > uint64(c.left) {
			return 0, false
		}
		c.skip(int(l))
		n++
	}
	return n, true
}

// cursor reads a BufferSlice's bytes in order without copying them.
type cursor struct {
	data mem.BufferSlice
	next int    // index of the buffer after cur
	cur  []byte // what is left of the current buffer
	left int    // bytes left in all
}

func (c *cursor) byte() byte {
	for len(c.cur) == 0 {
		c.next++
		c.cur = c.data[c.next].ReadOnlyData()
	}
	b := c.cur[0]
	c.cur = c.cur[1:]
	c.left--
	return b
}

// uvarint reads a varint as protowire does (at most 10 bytes).
func (c *cursor) uvarint() (uint64, bool) {
	var v uint64
	for i := 0; i < 10 && c.left > 0; i++ {
		b := c.byte()
		v |= uint64(b&0x7f) << (7 * i)
		if b < 0x80 {
			return v, true
		}
	}
	return 0, false
}

// skip passes n bytes; n is at most c.left.
func (c *cursor) skip(n int) {
	c.left -= n
	for n > len(c.cur) {
		n -= len(c.cur)
		c.next++
		c.cur = c.data[c.next].ReadOnlyData()
	}
	c.cur = c.cur[n:]
}
