package diode

import (
	"fmt"
	"sync/atomic"
)

// WithMaxBytes bounds a buffer in bytes as well as in elements: size(v)
// is what element v holds (Len for wire bytes), and the elements held
// never add up to more than max bytes. A write that would go over is shed
// as a write into a full buffer is, never blocking the writer:
//
//   - OneToOne, ManyToOne and Channel refuse the new element. (A full ring
//     overwrites its oldest element instead; it cannot take one from under
//     its reader, so over its bytes it keeps what it holds.)
//   - Fair drops the oldest elements of the heaviest sources until the new
//     one fits, as when it is full; an element larger than max is dropped
//     itself.
//
// Either way the element is counted in Stats.Dropped and reported to the
// alert callback like any overflow, so Written == Read + Dropped after a
// drain still holds, and Stats.Bytes tells how many bytes are held. size
// is called once per Set and once per element read or shed, on those
// goroutines: it must be cheap, must not allocate, and must give the same
// answer for the same element. A negative size counts as 0.
//
// The constructors refuse max < 1, a nil size, and a size function for
// another element type (ErrInvalidConfig). Without this option a buffer is
// bounded in elements only, and pays nothing for the byte count.
func WithMaxBytes[T any](max int64, size func(T) int) Option {
	return optionFunc(func(c *config) {
		c.maxBytes, c.sizeOf, c.bytesSet = max, size, true
	})
}

// Len returns len(b): the size function of a buffer of wire bytes, for
// WithMaxBytes. It counts the bytes the slice shows, not the array behind
// it: an envelope sliced out of a larger message keeps that message alive.
func Len(b []byte) int { return len(b) }

// byteCap is a buffer's byte bound: the bytes its elements hold, and the
// writes refused because they would have gone over. A nil *byteCap is no
// bound.
type byteCap[T any] struct {
	max     int64
	size    func(T) int
	held    atomic.Int64 // releasedHeld once Release gave it back to pool
	pool    *BytePool    // WithBytePool, or nil
	reserve int64        // WithPoolReserve: bytes held without the pool

	// Ring buffers only: writes refused for bytes, which took no write
	// number, and how many of them the reader has passed to the alert
	// callback (reader only).
	refused  atomic.Uint64
	reported uint64
}

// newByteCap returns the byte bound c asks for, or nil when it asks for
// none.
func newByteCap[T any](c config) (*byteCap[T], error) {
	if c.poolSet {
		return nil, fmt.Errorf("%w: WithBytePool is for OneToOne, ManyToOne and Channel", ErrInvalidConfig)
	}
	if !c.bytesSet {
		return nil, nil
	}
	if c.maxBytes < 1 {
		return nil, fmt.Errorf("%w: max bytes %d, want at least 1", ErrInvalidConfig, c.maxBytes)
	}
	size, ok := c.sizeOf.(func(T) int)
	if !ok || size == nil {
		var zero T
		return nil, fmt.Errorf("%w: WithMaxBytes needs a func(%T) int", ErrInvalidConfig, zero)
	}
	return &byteCap[T]{max: c.maxBytes, size: size}, nil
}

func (b *byteCap[T]) sizeOf(v T) int64 { return int64(max(b.size(v), 0)) }

// take counts v's bytes as held and reports true, or reports false when
// they would take the total over max (then nothing is counted). It is exact
// under concurrent writers: a compare-and-swap, retried only when another
// goroutine changed the total meanwhile.
func (b *byteCap[T]) take(v T) bool {
	n := b.sizeOf(v)
	if b.pool != nil {
		return b.takePooled(n)
	}
	for {
		cur := b.held.Load()
		if cur+n > b.max {
			return false
		}
		if b.held.CompareAndSwap(cur, cur+n) {
			return true
		}
	}
}

// release counts v's bytes as no longer held.
func (b *byteCap[T]) release(v T) {
	n := b.sizeOf(v)
	switch {
	case n == 0:
	case b.pool != nil:
		b.releasePooled(n)
	default:
		b.held.Add(-n)
	}
}

// bytes returns the bytes held (0 for no bound).
func (b *byteCap[T]) bytes() uint64 {
	if b == nil {
		return 0
	}
	return uint64(max(b.held.Load(), 0))
}

// refuse counts a write of a ring buffer refused for bytes.
func (b *byteCap[T]) refuse() { b.refused.Add(1) }

// unreported returns the ring's refused writes not yet passed to the alert
// callback and marks them passed; reader only.
func (b *byteCap[T]) unreported() uint64 {
	n := b.refused.Load()
	missed := n - b.reported
	b.reported = n
	return missed
}
