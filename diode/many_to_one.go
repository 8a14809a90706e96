package diode

import (
	"context"
	"sync/atomic"
)

// ManyToOne is a diode for any number of writer goroutines and one reader
// goroutine, with the same semantics as OneToOne. Writers take numbers from
// one atomic counter; a writer that finds a later number already in its slot
// (it was a whole lap slow) gives its value up, which is then counted as
// dropped like any overwritten value, and counted in Stats.Collisions.
// Nothing is ever logged.
//
// TryNext and Next must be called from one goroutine at a time.
type ManyToOne[T any] struct {
	written    atomic.Uint64 // also the number of the next write
	collisions atomic.Uint64
	_          cacheLinePad

	r reader[T]
	_ cacheLinePad

	w waiter
}

var _ Buffer[int] = (*ManyToOne[int])(nil)

// NewManyToOne returns a ManyToOne diode holding up to size elements. It
// returns ErrInvalidSize when size < 1.
func NewManyToOne[T any](size int, opts ...Option) (*ManyToOne[T], error) {
	c, err := newConfig(size, opts)
	if err != nil {
		return nil, err
	}
	bc, err := newPooledCap[T](c)
	if err != nil {
		return nil, err
	}
	return &ManyToOne[T]{r: newReader(size, c.alert, bc), w: newWaiter()}, nil
}

// Set writes v, overwriting the oldest unread element when the buffer is
// full. It is safe for concurrent use and never waits for the reader.
func (d *ManyToOne[T]) Set(v T) {
	bc := d.r.bc
	if bc != nil && !bc.take(v) {
		bc.refuse() // over its bytes: refused, without a write number
		return
	}
	n := d.written.Add(1) - 1
	lost, collided := d.r.slots[n%uint64(len(d.r.slots))].put(n, v, bc)
	if collided {
		d.collisions.Add(1)
	}
	if lost && bc != nil {
		bc.release(v)
	}
	d.w.signal()
}

// TryNext returns the next element, or false when there is none. When the
// writers have lapped the reader, it calls the alert callback with the
// number of elements skipped before returning.
func (d *ManyToOne[T]) TryNext() (T, bool) { return d.r.tryNext() }

// Next returns the next element, sleeping while there is none, or ctx.Err()
// once ctx is done.
func (d *ManyToOne[T]) Next(ctx context.Context) (T, error) {
	return d.r.nextOrWait(ctx, &d.w)
}

// Stats returns a snapshot of the counters.
func (d *ManyToOne[T]) Stats() Stats {
	var s Stats
	c := d.r.counts()
	s.Read, s.Dropped = c.read, c.dropped
	s.Written = d.written.Load()
	s.Collisions = d.collisions.Load()
	if bc := d.r.bc; bc != nil {
		refused := bc.refused.Load()
		s.Written += refused
		s.Dropped += refused
		s.Bytes = bc.bytes()
	}
	return s
}
