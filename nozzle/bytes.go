package nozzle

import (
	"google.golang.org/protobuf/proto"

	"github.com/sluicelog/sluice/diode"
	"github.com/sluicelog/sluice/envelope"
)

// WithBufferBytes bounds the buffer between the streams and the consumer
// in bytes as well as in envelopes (WithBufferSize): an envelope that
// would take it over n bytes is dropped and counted as when it is full
// (Stats.Dropped, a slow-consumer episode). A Reader and a Firehose count
// wire bytes; a GatewayReader, which holds decoded envelopes, counts their
// encoded size (proto.Size), a little under what the structs take. Zero
// (the default) bounds the buffer in envelopes only; a negative n makes
// the constructor fail with ErrInvalidConfig.
func WithBufferBytes(n int64) Option {
	return Option{func(c *config) { c.bufBytes = n }}
}

// wireBytes is the buffer option of WithBufferBytes for wire bytes, or nil.
func (c *config) wireBytes() diode.Option {
	if c.bufBytes == 0 {
		return nil
	}
	return diode.WithMaxBytes(c.bufBytes, diode.Len)
}

// structBytes is the buffer option of WithBufferBytes for decoded
// envelopes, or nil.
func (c *config) structBytes() diode.Option {
	if c.bufBytes == 0 {
		return nil
	}
	return diode.WithMaxBytes(c.bufBytes, func(e *envelope.Envelope) int { return proto.Size(e) })
}
