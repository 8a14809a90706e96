package diode

import (
	"context"
	"runtime"
	"sync/atomic"
)

// waiter lets the reader sleep while the buffer is empty and lets a writer
// wake it, without costing the writer anything while the reader is awake.
//
// The reader raises sleeping, looks at the buffer once more, and only then
// blocks on wake. A writer publishes its value and then reads sleeping; only
// when it is set does the writer lower it (one CAS, so one writer per sleep)
// and put a token in wake. Both sides use sequentially consistent atomics, so
// either the reader's last look sees the value or the writer sees the flag:
//
//	reader                        writer
//	sleeping = true               publish value
//	look at buffer  --- empty?    sleeping? -- yes --> CAS true->false, send token
//	block on wake   <----------------------------------'
//
// A token left over from a sleep that found a value on its last look only
// causes one extra look next time.
type waiter struct {
	sleeping atomic.Bool
	wake     chan struct{}
}

func newWaiter() waiter { return waiter{wake: make(chan struct{}, 1)} }

// signal is called by writers after they published a value.
func (w *waiter) signal() {
	if w.sleeping.Load() && w.sleeping.CompareAndSwap(true, false) {
		select {
		case w.wake <- struct{}{}:
		default:
		}
	}
}

// spinLooks is how many times Next looks again, yielding in between, before
// it goes to sleep: a writer that is mid-copy or about to write is usually
// faster than a sleep and wake-up. An idle reader spends these few
// microseconds once, then sleeps.
const spinLooks = 16

// nextOrWait is Next for the ring buffers.
func (r *reader[T]) nextOrWait(ctx context.Context, w *waiter) (T, error) {
	return waitNext(ctx, w, r.tryNext, func() { r.publish(0) })
}

// waitNext is Next for a buffer whose writers signal w: it returns what
// try finds, looking a few times and then sleeping until a writer's
// signal, or ctx.Err() once ctx is done (after calling done).
func waitNext[T any](ctx context.Context, w *waiter, try func() (T, bool), done func()) (T, error) {
	var zero T
	ctxDone := ctx.Done()
	for {
		select {
		case <-ctxDone:
			done()
			return zero, ctx.Err()
		default:
		}
		if v, ok := try(); ok {
			return v, nil
		}
		for range spinLooks {
			runtime.Gosched()
			if v, ok := try(); ok {
				return v, nil
			}
		}
		w.sleeping.Store(true)
		if v, ok := try(); ok {
			w.sleeping.Store(false)
			return v, nil
		}
		select {
		case <-w.wake:
		case <-ctxDone:
			w.sleeping.Store(false)
			return zero, ctx.Err()
		}
	}
}
