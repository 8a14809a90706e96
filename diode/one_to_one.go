package diode

import (
	"context"
	"sync/atomic"
)

// OneToOne is a diode for one writer goroutine and one reader goroutine: a
// ring buffer whose writer never waits for the reader. When the writer laps
// the reader, the reader skips everything it missed and reports how many
// through the alert callback, as go-diodes' OneToOne does.
//
// Set must be called from one goroutine at a time, and TryNext and Next from
// one goroutine at a time; use ManyToOne for several writers.
type OneToOne[T any] struct {
	// writer's side
	next    uint64        // number of the next write
	pos     uint64        // next % size
	written atomic.Uint64 // next, stored every publishEvery writes
	_       cacheLinePad

	r reader[T]
	_ cacheLinePad

	w waiter
}

var _ Buffer[int] = (*OneToOne[int])(nil)

// NewOneToOne returns a OneToOne diode holding up to size elements. It
// returns ErrInvalidSize when size < 1.
func NewOneToOne[T any](size int, opts ...Option) (*OneToOne[T], error) {
	c, err := newConfig(size, opts)
	if err != nil {
		return nil, err
	}
	bc, err := newPooledCap[T](c)
	if err != nil {
		return nil, err
	}
	return &OneToOne[T]{r: newReader(size, c.alert, bc), w: newWaiter()}, nil
}

// Set writes v, overwriting the oldest unread element when the buffer is
// full. It never blocks on the reader (see the slot protocol in ring.go for
// the nanoseconds it may wait while the reader copies out of the same slot).
func (d *OneToOne[T]) Set(v T) {
	if d.r.bc != nil && !d.r.bc.take(v) {
		d.r.bc.refuse() // over its bytes: refused, without a write number
		return
	}
	n, pos := d.next, d.pos
	d.next++
	d.pos++
	if d.pos == uint64(len(d.r.slots)) {
		d.pos = 0
	}
	d.r.slots[pos].putOne(n, v, d.r.bc)
	if d.next%publishEvery == 0 {
		d.written.Store(d.next)
	}
	d.w.signal()
}

// TryNext returns the next element, or false when there is none. When the
// writer has lapped the reader, it calls the alert callback with the number
// of elements skipped before returning.
func (d *OneToOne[T]) TryNext() (T, bool) { return d.r.tryNext() }

// Next returns the next element, sleeping while there is none, or ctx.Err()
// once ctx is done.
func (d *OneToOne[T]) Next(ctx context.Context) (T, error) {
	return d.r.nextOrWait(ctx, &d.w)
}

// Stats returns a snapshot of the counters.
func (d *OneToOne[T]) Stats() Stats {
	var s Stats
	// Dropped includes what the writer has already overwritten ahead of the
	// reader: a lapped reader's loss shows while it happens, not when the
	// reader next reads. The writes are taken before the reader's counts
	// (see overwritten), and Written after them (Read+Dropped <= Written).
	before := d.writes()
	c := d.r.counts()
	s.Written = d.writes()
	s.Read = c.read
	s.Dropped = c.dropped + d.r.overwritten(c, before)
	if bc := d.r.bc; bc != nil {
		refused := bc.refused.Load()
		s.Written += refused
		s.Dropped += refused
		s.Bytes = bc.bytes()
	}
	return s
}

// writes counts the writes that have claimed their slot. The writer stores
// its count only every publishEvery writes (a store on every Set would cost
// a locked instruction); the writes since then are found in the slots,
// because write n leaves a tag of at least n+1 in slot n % size for good.
func (d *OneToOne[T]) writes() uint64 {
	n := d.written.Load()
	size := uint64(len(d.r.slots))
	// Bounded so that Stats does not chase a running writer for ever.
	for range 2 * publishEvery {
		if !d.r.slots[n%size].started(n) {
			break
		}
		n++
	}
	return n
}
