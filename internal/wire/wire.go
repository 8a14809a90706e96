package wire

import (
	"fmt"

	"google.golang.org/grpc"
	"google.golang.org/grpc/encoding"
	_ "google.golang.org/grpc/encoding/proto" // registers the "proto" codec we fall back to
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/sluicelog/sluice/envelope"
)

// Batch is a loggregator.v2.EnvelopeBatch as wire bytes.
//
// Received: Raw holds the whole message (owned by the receiver; the codec
// does not check it, so handlers can answer bad input with a precise status).
// Sent: Envelopes holds the wire bytes of each envelope, framed as an
// EnvelopeBatch without re-encoding; when Envelopes is nil, Raw is sent.
//
// A receiver may set SkipIf before RecvMsg: the codec asks it with the
// message's size before copying the message, and when it answers true the
// message is not copied but only its envelopes counted: Raw is nil, Skipped
// is set and SkippedEnvelopes holds the count. A message whose framing
// cannot be counted is received as usual.
type Batch struct {
	Raw       []byte
	Envelopes [][]byte
	// SourceIDs is filled by SplitSourceless when WantSourceIDs is set:
	// the source ID of each of Envelopes, sharing Raw's memory. Its
	// storage is reused from message to message (the codec leaves it and
	// WantSourceIDs alone).
	SourceIDs     []string
	WantSourceIDs bool

	SkipIf           func(size int) bool
	Skipped          bool
	SkippedEnvelopes int
}

// Envelope is one loggregator.v2.Envelope as wire bytes.
type Envelope struct {
	Raw []byte
}

// Codec is a grpc.CodecV2 named "proto" (so peers see ordinary
// application/grpc+proto traffic) that handles *Batch, *Envelope and
// *Message itself.
type Codec struct{}

var protoCodec = encoding.GetCodecV2("proto")

// Name implements encoding.CodecV2.
func (Codec) Name() string { return "proto" }

// Marshal implements encoding.CodecV2. The returned buffers come from Pool
// and are owned by grpc, so the caller may reuse its slices as soon as
// SendMsg returns.
func (Codec) Marshal(v any) (mem.BufferSlice, error) {
	switch m := v.(type) {
	case *Batch:
		if m.Envelopes == nil {
			return copyOut(m.Raw), nil
		}
		size := envelope.BatchSize(m.Envelopes)
		buf := Pool.Get(size)
		*buf = envelope.AppendBatch((*buf)[:0], m.Envelopes)
		return mem.BufferSlice{mem.NewBuffer(buf, Pool)}, nil
	case *Envelope:
		return copyOut(m.Raw), nil
	case *Message:
		return m.take(), nil
	}
	return protoCodec.Marshal(v)
}

func copyOut(b []byte) mem.BufferSlice {
	if len(b) == 0 {
		return nil
	}
	buf := Pool.Get(len(b))
	copy(*buf, b)
	return mem.BufferSlice{mem.NewBuffer(buf, Pool)}
}

// Unmarshal implements encoding.CodecV2. Raw values get one private copy of
// the message (grpc recycles data after this returns); envelope slices split
// from it stay valid for as long as anyone holds them.
func (Codec) Unmarshal(data mem.BufferSlice, v any) error {
	switch m := v.(type) {
	case *Batch:
		m.Envelopes, m.Skipped, m.SkippedEnvelopes = nil, false, 0
		if m.SkipIf != nil && m.SkipIf(data.Len()) {
			if n, ok := countEnvelopes(data); ok {
				m.Raw, m.Skipped, m.SkippedEnvelopes = nil, true, n
				return nil
			}
		}
		m.Raw = recvCopy(data) // recv.go
		return nil
	case *Envelope:
		m.Raw = recvCopy(data)
		return nil
	}
	return protoCodec.Unmarshal(data, v)
}

// ServerOption makes a grpc.Server use Codec for every service it serves.
// sluice's services need it: their handlers receive *Batch and *Envelope.
func ServerOption() grpc.ServerOption { return grpc.ForceServerCodecV2(Codec{}) }

// CallOption makes a client call use Codec.
func CallOption() grpc.CallOption { return grpc.ForceCodecV2(Codec{}) }

// DialOption makes every call on a connection use Codec.
func DialOption() grpc.DialOption { return grpc.WithDefaultCallOptions(CallOption()) }

// Split splits b.Raw into b.Envelopes (reusing b.Envelopes' storage) and
// reads each envelope's route, returning the first error with the index of
// the bad envelope. It is what a receiving handler calls before accepting a
// batch: nothing of a malformed batch is accepted.
func (b *Batch) Split() error {
	_, err := b.SplitSourceless(nil)
	return err
}

// SplitSourceless is Split that also sets b.SourceIDs to the source ID of
// each envelope (when b.WantSourceIDs) and appends to sourceless the index of every envelope
// whose source ID is empty, read by the same routing read that validates
// it (an ingress fills those from their origin tag), so a receiver does
// not scan each envelope a second time.
func (b *Batch) SplitSourceless(sourceless []int) ([]int, error) {
	envs, err := envelope.SplitBatch(b.Raw, b.Envelopes[:0])
	b.Envelopes = envs
	b.SourceIDs = b.SourceIDs[:0]
	if err != nil {
		return sourceless, err
	}
	for i, e := range envs {
		r, err := envelope.ReadRoute(e)
		if err != nil {
			return sourceless, fmt.Errorf("envelope %d of batch: %w", i, err)
		}
		if b.WantSourceIDs {
			b.SourceIDs = append(b.SourceIDs, r.SourceID)
		}
		if r.SourceID == "" {
			sourceless = append(sourceless, i)
		}
	}
	return sourceless, nil
}

// Size returns the marshaled size of b (what the codec writes).
func (b *Batch) Size() int {
	if b.Envelopes == nil {
		return len(b.Raw)
	}
	return envelope.BatchSize(b.Envelopes)
}

// envelopeFieldOverhead is the framing one envelope adds inside a batch.
func envelopeFieldOverhead(n int) int { return 1 + protowire.SizeVarint(uint64(n)) }

// FramedSize returns how many bytes an envelope of n wire bytes takes inside
// a marshaled batch.
func FramedSize(n int) int { return n + envelopeFieldOverhead(n) }
