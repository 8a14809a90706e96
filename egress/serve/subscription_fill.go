package serve

import (
	"context"
	"time"

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
	// The target is taken before the look, so that every envelope written
	// after the look counts towards it (the router adds its writes after
	// making them); one counted twice only wakes the reader early.
	w0 := w.written.Load()
	w.target.Store(w0 + uint64(max(n, 1)))
	w.sleeping.Store(true)
	st := s.buf.Stats()
	held := st.Written - min(st.Written, s.read.Load()+st.Dropped)
	if held >= uint64(max(n, 1)) {
		w.sleeping.Store(false)
		return nil
	}
	w.target.Store(w0 + uint64(max(n, 1)) - held)
	if c := w.written.Load(); c >= w0+uint64(max(n, 1))-held {
		// The router wrote enough while the target was being lowered: it
		// may have looked at the higher one.
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
