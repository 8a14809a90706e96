package serve

import (
	"fmt"

	"github.com/sluicelog/sluice/diode"
)

// subscriptionPoolBytes is the gauge of the wire bytes the subscription
// buffers of a Router hold out of their shared pool (WithSubscriptionPool).
const (
	subscriptionPoolBytes     = "subscription_pool_bytes"
	helpSubscriptionPoolBytes = "Wire bytes the subscription buffers hold out of their shared pool."
)

// WithSubscriptionPool makes every subscription buffer of the Router take
// the wire bytes it holds from one pool of n bytes that all of them share
// (diode.WithBytePool): an envelope that would take the pool over n is
// refused and counted as dropped under its shard ID with cause overflow,
// as when its subscription's buffer is full. The memory all subscriptions
// hold is then at most n, however many there are, while any one of them
// may hold up to its own bound (WithSubscriptionBytes, which should be
// well below n so that one stalled subscriber cannot take the whole pool)
// to ride out a stall of its reader. A buffer a subscription leaves behind
// (closed, or its shard group's grace period over) gives its bytes back.
// Each buffer has reserve bytes of its own besides (diode.WithPoolReserve):
// it takes from the pool only what it holds beyond them, so subscriptions
// whose subscribers stall and fill the pool cannot starve the others of
// everything. Memory for subscriptions' envelopes is then at most n plus
// reserve per buffer (WithMaxStreams for a Server and a Gateway, plus one
// per shard group waiting out WithGroupGrace).
// Without it (or with n = 0) every buffer is bounded on its own. A
// negative n or reserve makes NewRouter fail; a WithSubscriptionBuffer
// factory ignores it.
func WithSubscriptionPool(n, reserve int64) RouterOption {
	return routerOptionFunc(func(c *routerConfig) { c.sub.poolBytes, c.sub.poolReserve = n, reserve })
}

// newPool makes the pool b asks for (WithSubscriptionPool), if any.
func (b *subBuffer) newPool() error {
	if b.poolBytes == 0 {
		return nil
	}
	p, err := diode.NewBytePool(b.poolBytes)
	if err != nil {
		return fmt.Errorf("%w: subscription pool: %w", ErrInvalidConfig, err)
	}
	b.pool = p
	return nil
}

// poolHeld returns the bytes held out of the subscription pool (0 without
// one).
func (b *subBuffer) poolHeld() int64 {
	if b.pool == nil {
		return 0
	}
	return b.pool.Held()
}

// releaseBuffer gives what buf holds back to its byte pool, if it has one
// (diode.OneToOne.Release): called once nothing writes to or reads buf
// any more.
func releaseBuffer(buf diode.Buffer[[]byte]) {
	if r, ok := buf.(interface{ Release() }); ok {
		r.Release()
	}
}
