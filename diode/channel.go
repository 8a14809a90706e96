package diode

import (
	"context"
	"sync/atomic"
)

// Channel is a bounded first-in first-out queue whose writes never block:
// Set into a full buffer is refused and the new element counted as dropped
// (the newest is lost, as in Loggregator's reverse log proxy). It is safe
// for any number of writers and one reader.
//
// The alert callback runs on the reader's goroutine: TryNext and Next report
// the drops that happened since their previous report.
type Channel[T any] struct {
	written atomic.Uint64
	dropped atomic.Uint64
	_       cacheLinePad

	c        chan T
	alert    AlertFunc
	bc       *byteCap[T] // WithMaxBytes, or nil
	read     atomic.Uint64
	reported uint64 // drops already passed to alert; reader only
}

var _ Buffer[int] = (*Channel[int])(nil)

// NewChannel returns a Channel buffer holding up to size elements. It
// returns ErrInvalidSize when size < 1.
func NewChannel[T any](size int, opts ...Option) (*Channel[T], error) {
	c, err := newConfig(size, opts)
	if err != nil {
		return nil, err
	}
	bc, err := newPooledCap[T](c)
	if err != nil {
		return nil, err
	}
	return &Channel[T]{c: make(chan T, size), alert: c.alert, bc: bc}, nil
}

// Set queues v, or drops it when the buffer is full (in elements, or in
// bytes with WithMaxBytes).
func (d *Channel[T]) Set(v T) {
	d.written.Add(1) // before the send, so Written >= Read + Dropped
	if d.bc != nil && !d.bc.take(v) {
		d.dropped.Add(1)
		return
	}
	select {
	case d.c <- v:
	default:
		d.dropped.Add(1)
		if d.bc != nil {
			d.bc.release(v)
		}
	}
}

// TryNext returns the oldest element, or false when there is none.
func (d *Channel[T]) TryNext() (v T, ok bool) {
	select {
	case v = <-d.c:
		d.read.Add(1)
		ok = true
		if d.bc != nil {
			d.bc.release(v)
		}
	default:
	}
	d.report()
	return v, ok
}

// Next returns the oldest element, sleeping while there is none, or
// ctx.Err() once ctx is done.
func (d *Channel[T]) Next(ctx context.Context) (T, error) {
	var zero T
	done := ctx.Done()
	select {
	case <-done:
		return zero, ctx.Err()
	default:
	}
	if v, ok := d.TryNext(); ok {
		return v, nil
	}
	select {
	case v := <-d.c:
		d.read.Add(1)
		if d.bc != nil {
			d.bc.release(v)
		}
		d.report()
		return v, nil
	case <-done:
		return zero, ctx.Err()
	}
}

// report passes the drops not yet reported to the alert callback.
func (d *Channel[T]) report() {
	if n := d.dropped.Load(); n != d.reported {
		missed := n - d.reported
		d.reported = n
		d.alert(int(missed))
	}
}

// Stats returns a snapshot of the counters.
func (d *Channel[T]) Stats() Stats {
	s := Stats{Read: d.read.Load(), Dropped: d.dropped.Load(), Bytes: d.bc.bytes()}
	s.Written = d.written.Load()
	return s
}
