package diode

import (
	"context"
	"time"
)

// room lets writers that would rather wait than make a full Fair buffer
// drop sleep until the reader has made room. It lives under the buffer's
// mutex. While nobody waits, ch is nil and the reader pays one nil check
// per element read.
type room struct {
	ch   chan struct{} // closed by the reader once there is room for n and size; nil when nobody waits
	n    int           // the fewest elements a waiter asked room for
	size int64         // the fewest bytes a waiter asked room for
}

// hasRoom reports, under f.mu, whether n more elements of size bytes in
// all fit without a drop.
func (f *Fair[T]) hasRoom(n int, size int64) bool {
	if f.held+n > len(f.items) {
		return false
	}
	return f.bc == nil || f.bytes+size <= f.bc.max
}

// roomRead is called by the reader under f.mu after it took an element:
// it wakes the waiters once the smallest of them fits.
func (f *Fair[T]) roomRead() {
	if f.hasRoom(f.room.n, f.room.size) {
		close(f.room.ch)
		f.room.ch = nil
	}
}

// WaitRoom waits until the buffer has room for n more elements of size
// bytes in all (bytes count only for a buffer bounded in bytes), so that
// writing them drops nothing, and reports whether it has; it gives up and
// reports false after timeout (at once when it is not positive) or once ctx
// is done. n is capped at half the
// buffer's size and size at half its bytes, so that a request can always
// be met. A writer that can wait (an ingress stream that then stops
// reading from its peer, which flow control pushes back on) saves the work
// of taking in what the buffer would drop, and lets the sender count the
// drop at its edge.
//
// The waiter is woken by the reader as soon as the room is there, not by
// polling. Room is not reserved: writers woken together may together
// write more than fits, and the buffer then drops as Set always does.
// WaitRoom never blocks the reader nor Set.
func (f *Fair[T]) WaitRoom(ctx context.Context, n int, size int64, timeout time.Duration) bool {
	n = min(max(n, 1), max(len(f.items)/2, 1))
	if f.bc != nil {
		size = min(max(size, 0), f.bc.max/2)
	}
	var (
		timer *time.Timer
		tc    <-chan time.Time
	)
	for {
		f.mu.Lock()
		if f.hasRoom(n, size) {
			f.mu.Unlock()
			if timer != nil {
				timer.Stop()
			}
			return true
		}
		if timeout <= 0 {
			f.mu.Unlock()
			return false
		}
		if f.room.ch == nil {
			f.room.ch, f.room.n, f.room.size = make(chan struct{}), n, size
		} else {
			f.room.n, f.room.size = min(f.room.n, n), min(f.room.size, size)
		}
		ch := f.room.ch
		f.mu.Unlock()
		if timer == nil {
			timer = time.NewTimer(timeout)
			tc = timer.C
		}
		select {
		case <-ch:
		case <-tc:
			return false
		case <-ctx.Done():
			timer.Stop()
			return false
		}
	}
}
