package ingress

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/sluicelog/sluice/internal/wire"
	"github.com/sluicelog/sluice/stats"
)

// WithWaitWhenFull makes a BatchSender stream whose last batch left the
// buffer without room for another like it wait, for at most d, until the
// buffer's reader has made that room, before it receives its next batch.
// While a stream waits it reads nothing from its peer, so HTTP/2 flow
// control pushes back on the sender, which then buffers, and drops and
// counts at its own edge what it cannot send: a router offered more than
// it can route spends its CPU routing what it takes in instead of
// decrypting and validating envelopes only to drop them. The waiter is
// woken by the reader as soon as there is room (no polling); a batch
// still without room after d is taken in as without the option, and the
// buffer drops as it always does (the fair policy: the heaviest sources'
// oldest), so no client can hold the router, a stalled client holds
// nothing, and fairness between sources is kept. The room asked for is
// the last batch's envelopes and bytes times the streams open (so that
// streams woken together fit), at most half the buffer.
//
// Only a buffer with a WaitRoom method can be waited on: diode.Fair and a
// limit.Buffer of the fair policy; with others the option does nothing.
// Waits are counted in ServerStats (Waits, WaitTime, WaitTimeouts,
// WaitCancels) and telemetry (ingress_waits, ingress_wait_seconds,
// ingress_wait_timeouts, ingress_wait_cancels).
// Zero (the default) turns it off; a negative d is invalid.
func WithWaitWhenFull(d time.Duration) ServerOption {
	return serverOptionFunc(func(c *serverConfig) { c.wait = d })
}

// roomBuffer is a buffer a writer can wait on for room.
type roomBuffer interface {
	WaitRoom(ctx context.Context, n int, size int64, timeout time.Duration) bool
}

// edgeWait is the Server's WithWaitWhenFull: the buffer to wait on and the
// counters of the waits.
type edgeWait struct {
	buf      roomBuffer // nil: off
	max      time.Duration
	waits    atomic.Uint64 // waits begun: no room found
	timeouts atomic.Uint64 // of those, waits that reached the bound without room
	cancels  atomic.Uint64 // of those, waits cut short by the stream's end
	nanos    atomic.Int64  // time waited
}

func (w *edgeWait) init(buf any, d time.Duration) error {
	if d < 0 {
		return fmt.Errorf("%w: wait when full %v", ErrInvalidConfig, d)
	}
	if rb, ok := buf.(roomBuffer); ok && d > 0 {
		w.buf, w.max = rb, d
	}
	return nil
}

// room waits, before a BatchSender stream receives its next batch, until
// the buffer has room for last (the batch it took in last) times the
// streams open, or w.max has passed.
func (s *Server) room(ctx context.Context, last *wire.Batch) {
	w := &s.wait
	if w.buf == nil || len(last.Envelopes) == 0 || s.closed.Load() {
		return
	}
	k := max(s.open.Load(), 1)
	n, size := len(last.Envelopes)*int(k), int64(len(last.Raw))*k
	if w.buf.WaitRoom(ctx, n, size, 0) {
		return // room at once: no wait, no clock read
	}
	w.waits.Add(1)
	start := time.Now()
	ok := w.buf.WaitRoom(ctx, n, size, w.max)
	w.nanos.Add(int64(time.Since(start)))
	switch {
	case ok:
	case ctx.Err() != nil:
		// The stream ended (its client left or cancelled, or the server
		// stopped) while it waited: not the bound.
		w.cancels.Add(1)
	default:
		w.timeouts.Add(1)
	}
}

// stats fills the wait counters of st.
func (w *edgeWait) stats(st *ServerStats) {
	st.Waits, st.WaitTimeouts, st.WaitCancels = w.waits.Load(), w.timeouts.Load(), w.cancels.Load()
	st.WaitTime = time.Duration(w.nanos.Load())
}

// report emits the wait counters of st.
func reportWaits(emit func(stats.Metric), st ServerStats) {
	emit(stats.CounterOf("ingress_waits", "BatchSender streams' waits, before receiving a batch, for room in the full ingress buffer (WithWaitWhenFull).", st.Waits))
	emit(stats.CounterOf("ingress_wait_timeouts", "Waits for room in the ingress buffer that ended after their bound without room; the batch was then taken in and the buffer dropped.", st.WaitTimeouts))
	emit(stats.CounterOf("ingress_wait_cancels", "Waits for room in the ingress buffer cut short because their stream ended (client gone or cancelled, server stopping).", st.WaitCancels))
	emit(stats.Metric{Name: "ingress_wait_seconds", Kind: stats.Counter, Help: "Time BatchSender streams spent waiting for room in the ingress buffer.", Value: st.WaitTime.Seconds()})
}
