package serve

import (
	"context"
	"math"
	"time"

	"github.com/sluicelog/sluice/diode"
	"github.com/sluicelog/sluice/internal/batch"
)

var _ batch.Filler = (*routerSub)(nil)

// WaitFill sleeps until the subscription holds at least n envelopes, d
// has passed, or ctx ends (internal/batch.Filler: an Egress stream with a
// partial batch waits so for the rest of it). The router wakes it once,
// when its writes since the reader went to sleep make up what was
// missing, instead of once per burst of Run's: at hundreds of thousands
// of envelopes a second a stream's batch of 250 takes several bursts to
// fill. It returns ctx.Err() when ctx ended, ErrSubscriptionClosed once
// the subscription is closed, and nil otherwise (it may return before n
// are there).
//
// It never waits for more than half of the room the buffer has
// (fillBound): a reader asleep until a batch of 250 had arrived in a
// buffer of 64 envelopes, or of room for a few large ones, would let it
// overflow while it slept.
func (s *routerSub) WaitFill(ctx context.Context, n int, d time.Duration) error {
	s.readMu.Lock()
	defer s.readMu.Unlock()
	if s.closed.Load() {
		return ErrSubscriptionClosed
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	w := &s.wake
	bound := s.r.cfg.fill
	need := uint64(min(max(n, 1), bound.most()))
	// The targets are taken before the look, so that every envelope written
	// after the look counts towards them (the router adds its writes after
	// making them); one counted twice only wakes the reader early.
	w0, b0 := w.written.Load(), w.writtenBytes.Load()
	w.target.Store(w0 + need)
	w.targetBytes.Store(bound.target(b0, 0))
	w.sleeping.Store(true)
	st := s.buf.Stats()
	held := st.Written - min(st.Written, s.read.Load()+st.Dropped)
	if held >= need {
		w.sleeping.Store(false)
		return nil
	}
	w.target.Store(w0 + need - held)
	tb := bound.target(b0, st.Bytes)
	w.targetBytes.Store(tb)
	if w.written.Load() >= w0+need-held || w.writtenBytes.Load() >= tb {
		// The router wrote enough while the targets were being lowered: it
		// may have looked at the higher ones.
		w.sleeping.Store(false)
		return nil
	}
	if s.fillTimer == nil {
		s.fillTimer = time.NewTimer(d)
	} else {
		s.fillTimer.Reset(d)
	}
	defer s.fillTimer.Stop()
	select {
	case <-w.ch:
		return nil
	case <-s.fillTimer.C:
		w.sleeping.Store(false)
		return nil
	case <-ctx.Done():
		w.sleeping.Store(false)
		return ctx.Err()
	case <-s.ctx.Done():
		w.sleeping.Store(false)
		return ErrSubscriptionClosed
	}
}

// fillBound is what a subscription's buffer holds, for WaitFill not to
// wait for more than half of it: envelopes (its size), and bytes when it
// is bounded in bytes (its own bound, maxBytes, and a shared pool's).
type fillBound struct {
	envelopes int
	maxBytes  int64           // WithSubscriptionBytes, or 0
	pool      *diode.BytePool // WithSubscriptionPool, or nil
	reserve   int64           // the pool reserve
}

// fillBound is the bound of the buffers b makes.
func (b subBuffer) fillBound() fillBound {
	return fillBound{envelopes: b.size, maxBytes: b.maxBytes, pool: b.pool, reserve: b.poolReserve}
}

// most is the most envelopes to wait for: half the buffer's.
func (f fillBound) most() int { return max(f.envelopes/2, 1) }

// bytes is how many bytes more to wait for in a buffer that holds held:
// half its room, what it can still take (with a pool, what the pool has
// left now, beyond the buffer's reserve); math.MaxUint64 when it is not
// bounded in bytes.
func (f fillBound) bytes(held uint64) uint64 {
	capacity := int64(math.MaxInt64)
	if f.maxBytes > 0 {
		capacity = f.maxBytes
	}
	if f.pool != nil {
		h := int64(min(held, math.MaxInt64))
		capacity = min(capacity, max(h, f.reserve)+max(f.pool.Max()-f.pool.Held(), 0))
	}
	if capacity == math.MaxInt64 {
		return math.MaxUint64
	}
	room := uint64(capacity) - min(held, uint64(capacity))
	return max(room/2, 1)
}

// target is the bytes-written count at which to wake a reader that went
// to sleep at written, its buffer holding held bytes.
func (f fillBound) target(written, held uint64) uint64 {
	b := f.bytes(held)
	if b == math.MaxUint64 {
		return b
	}
	return written + b
}
