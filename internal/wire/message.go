package wire

import (
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
)

// Message is an outgoing message written in place: the sender appends its
// bytes to B, which Reset points into a buffer from Pool, and sends the
// *Message; Codec.Marshal hands that buffer to grpc, which puts it back in
// Pool once written. A sender that changes envelopes on the way out (egress
// applies each subscriber's tag rule) so writes each envelope once, straight
// into the message grpc sends, where with Batch it would write it into a
// buffer of its own that Marshal then copies.
//
// The bytes are sent as they are: an EnvelopeBatch is written one envelope
// field at a time with BeginEnvelope and EndEnvelope; an Envelope (a
// Receiver stream's message) is just its bytes. Only append to B (or cut
// it shorter): Marshal tells the buffer Reset took from a larger one that
// append made by its capacity.
//
// After SendMsg, call Release: when SendMsg failed before marshaling,
// the Message still holds its buffer.
type Message struct {
	B   []byte
	buf *[]byte // from Pool, nil once handed over or released
}

// Reset starts a new, empty message in a buffer from Pool of at least size
// bytes.
func (m *Message) Reset(size int) {
	m.Release()
	m.buf = Pool.Get(size)
	m.B = (*m.buf)[:0]
}

// Release puts back the buffer the Message holds, if any, and empties it.
func (m *Message) Release() {
	if m.buf != nil {
		Pool.Put(m.buf)
	}
	m.buf, m.B = nil, nil
}

// take hands the message's bytes over as grpc buffers, emptying m. A
// Message that holds no buffer from Reset has B copied.
func (m *Message) take() mem.BufferSlice {
	buf := m.buf
	if buf == nil {
		out := copyOut(m.B)
		m.B = nil
		return out
	}
	if cap(m.B) != cap(*buf) {
		// append outgrew the buffer: B lives in an array of its own.
		Pool.Put(buf)
		b := m.B
		buf = &b
	} else {
		*buf = m.B
	}
	m.buf, m.B = nil, nil
	if len(*buf) == 0 {
		Pool.Put(buf)
		return nil
	}
	return mem.BufferSlice{mem.NewBuffer(buf, Pool)}
}

// EnvelopeField marks an envelope being written into a batch Message:
// where its length goes and how many bytes were kept for it.
type EnvelopeField struct{ at, reserved int }

// BeginEnvelope starts one envelope field of an EnvelopeBatch in m: it
// appends the field's tag and keeps room for the envelope's length, as many
// bytes as a length of hint takes (hint: the size the envelope will likely
// have, such as its size before a rewrite). Append the envelope's bytes to
// B, then call EndEnvelope.
func (m *Message) BeginEnvelope(hint int) EnvelopeField {
	m.B = append(m.B, byte(batchEnvelopeTag))
	f := EnvelopeField{at: len(m.B), reserved: protowire.SizeVarint(uint64(max(hint, 0)))}
	m.B = append(m.B, make([]byte, f.reserved)...)
	return f
}

// EndEnvelope writes the length of the envelope appended since f's
// BeginEnvelope. When the length takes more or fewer bytes than were kept
// (the hint and the size fall on two sides of a power of 128), the
// envelope's bytes are moved to fit.
func (m *Message) EndEnvelope(f EnvelopeField) {
	body := f.at + f.reserved
	n := len(m.B) - body
	if size := protowire.SizeVarint(uint64(n)); size != f.reserved {
		if size > f.reserved {
			m.B = append(m.B, make([]byte, size-f.reserved)...)
		}
		copy(m.B[f.at+size:], m.B[body:body+n])
		m.B = m.B[:f.at+size+n]
	}
	i, v := f.at, uint64(n)
	for ; v >= 0x80; v >>= 7 {
		m.B[i] = byte(v) | 0x80
		i++
	}
	m.B[i] = byte(v)
}
