package serve

import "github.com/sluicelog/sluice/diode"

// subBuffer is the subscription buffer the router makes when no
// WithSubscriptionBuffer factory is given: a diode (WithSubscriptionDiode)
// or a channel (WithSubscriptionChannel) of size envelopes, bounded in
// bytes too when maxBytes > 0 (WithSubscriptionBytes).
type subBuffer struct {
	channel  bool
	size     int
	maxBytes int64

	poolBytes   int64           // WithSubscriptionPool
	poolReserve int64           // WithSubscriptionPool: bytes each buffer holds before the pool
	pool        *diode.BytePool // made by NewRouter from poolBytes, or nil
}

func (b subBuffer) factory() func() (diode.Buffer[[]byte], error) {
	var opts []diode.Option
	if b.maxBytes != 0 {
		opts = append(opts, diode.WithMaxBytes(b.maxBytes, diode.Len))
	}
	if b.pool != nil {
		opts = append(opts, diode.WithBytePool(b.pool, diode.Len), diode.WithPoolReserve(b.poolReserve))
	}
	if b.channel {
		return func() (diode.Buffer[[]byte], error) { return diode.NewChannel[[]byte](b.size, opts...) }
	}
	return func() (diode.Buffer[[]byte], error) { return diode.NewOneToOne[[]byte](b.size, opts...) }
}

// WithSubscriptionBytes bounds every subscription's buffer in wire bytes
// as well as in envelopes (diode.WithMaxBytes): an envelope that would take
// a subscription's buffer over n bytes is refused and counted as dropped
// under its shard ID with cause overflow, as when the buffer is full.
// Without it (or with n = 0) a buffer is bounded in envelopes only, so by
// WithSubscriptionDiode's size times Limits.MaxEnvelopeBytes (128 MiB for
// the defaults). Memory for subscriptions is then at most n times the
// streams a Server and a Gateway serve (WithMaxStreams), plus n per shard
// group waiting out WithGroupGrace. A negative n makes NewRouter fail;
// a WithSubscriptionBuffer factory ignores it.
func WithSubscriptionBytes(n int64) RouterOption {
	return routerOptionFunc(func(c *routerConfig) { c.sub.maxBytes = n })
}
