package diode

import (
	"fmt"
	"math"
	"sync/atomic"
)

// BytePool is a byte bound shared by several buffers (WithBytePool): the
// elements all of them hold never add up to more than the pool's max
// bytes, while any one buffer may hold as much of it as its own bound
// (WithMaxBytes) lets it. Many buffers that are rarely full at the same
// time can so each absorb a long stall of its reader, and their memory
// together stays bounded by the pool.
//
// A BytePool is safe for concurrent use. Taking and giving back bytes is
// an atomic add (and, for a write that does not fit, a second add that
// undoes it): it never blocks and allocates nothing.
type BytePool struct {
	max  int64
	held atomic.Int64
}

// NewBytePool returns a pool of max bytes. It wraps ErrInvalidConfig when
// max < 1.
func NewBytePool(max int64) (*BytePool, error) {
	if max < 1 {
		return nil, fmt.Errorf("%w: byte pool of %d bytes, want at least 1", ErrInvalidConfig, max)
	}
	return &BytePool{max: max}, nil
}

// Max returns the pool's bound in bytes.
func (p *BytePool) Max() int64 { return p.max }

// Held returns the bytes the pool's buffers hold now.
func (p *BytePool) Held() int64 { return max(p.held.Load(), 0) }

// take counts n bytes as held and reports true, or reports false when they
// would take the pool over its max (then nothing is counted). Concurrent
// takes may briefly see the pool over max by what they are undoing, and
// refuse a write that would have fit a moment later; they never let it
// stay over.
func (p *BytePool) take(n int64) bool {
	if n == 0 {
		return true
	}
	if p.held.Add(n) > p.max {
		p.held.Add(-n)
		return false
	}
	return true
}

// give counts n bytes as no longer held.
func (p *BytePool) give(n int64) {
	if n != 0 {
		p.held.Add(-n)
	}
}

// WithBytePool makes a buffer take the bytes of what it holds from pool as
// well: a write whose bytes (size(v), as for WithMaxBytes) would take the
// pool over its max is shed as one over the buffer's own byte bound is,
// refused and counted in Stats.Dropped and reported to the alert callback.
// Reading or shedding an element gives its bytes back. Together with
// WithMaxBytes, a write needs room in both, and WithMaxBytes' size
// function counts for both; alone, the buffer is bounded by the pool (and
// its size) only.
//
// A buffer that is thrown away while it still holds elements must give
// their bytes back with Release, or the pool keeps them counted for good.
//
// OneToOne, ManyToOne and Channel take this option; NewFair refuses it
// (ErrInvalidConfig), as the constructors do a nil pool or a nil size.
func WithBytePool[T any](pool *BytePool, size func(T) int) Option {
	return optionFunc(func(c *config) {
		c.pool, c.poolSize, c.poolSet = pool, size, true
	})
}

// WithPoolReserve gives a buffer that takes its bytes from a pool
// (WithBytePool) n bytes of its own: the first n bytes it holds are not
// taken from the pool, only what it holds beyond them. However full the
// pool, the buffer can so always hold n bytes (as its own bound allows):
// buffers whose readers stall and fill the pool cannot starve the others
// of everything. The memory all the buffers of a pool hold is then at most
// the pool's max plus n for each. Stats.Bytes counts all a buffer holds;
// BytePool.Held only what it took from the pool. Without a pool it is
// ignored; a negative n makes the constructors fail (ErrInvalidConfig).
func WithPoolReserve(n int64) Option {
	return optionFunc(func(c *config) { c.poolReserve = n })
}

// releasedHeld is a byteCap's held count once Release gave its bytes
// back: below any real count, so every later write is refused.
const releasedHeld = math.MinInt64

// newPooledCap returns the byte bound c asks for, taking from a pool when
// it names one (WithBytePool), or nil when it asks for no bound. It is
// newByteCap for the buffers that may share a pool.
func newPooledCap[T any](c config) (*byteCap[T], error) {
	if !c.poolSet {
		return newByteCap[T](c)
	}
	if c.pool == nil {
		return nil, fmt.Errorf("%w: WithBytePool needs a pool", ErrInvalidConfig)
	}
	if !c.bytesSet {
		size, ok := c.poolSize.(func(T) int)
		if !ok || size == nil {
			var zero T
			return nil, fmt.Errorf("%w: WithBytePool needs a func(%T) int", ErrInvalidConfig, zero)
		}
		c.maxBytes, c.sizeOf, c.bytesSet = math.MaxInt64, size, true
	}
	if c.poolReserve < 0 {
		return nil, fmt.Errorf("%w: pool reserve %d, want at least 0", ErrInvalidConfig, c.poolReserve)
	}
	pool, reserve := c.pool, c.poolReserve
	c.pool, c.poolSize, c.poolSet = nil, nil, false
	bc, err := newByteCap[T](c)
	if err != nil {
		return nil, err
	}
	bc.pool, bc.reserve = pool, reserve
	return bc, nil
}

// pooled returns what of held bytes the pool counts: those beyond the
// buffer's reserve.
func (b *byteCap[T]) pooled(held int64) int64 { return max(held-b.reserve, 0) }

// takePooled is take for a bound that shares a pool: the pool's part
// first (what the write takes beyond the reserve), then the buffer's own
// count, whose value a Release may have closed. Each change of the own
// count from cur to cur+n is matched by exactly pooled(cur+n)-pooled(cur)
// in the pool, so Release gives back exactly the pool's part of what the
// buffer holds.
func (b *byteCap[T]) takePooled(n int64) bool {
	for {
		cur := b.held.Load()
		if cur < 0 || n > b.max-cur {
			return false
		}
		d := b.pooled(cur+n) - b.pooled(cur)
		if !b.pool.take(d) {
			return false
		}
		if b.held.CompareAndSwap(cur, cur+n) {
			return true
		}
		b.pool.give(d) // another goroutine changed the count: again
	}
}

// releasePooled is release for a bound that shares a pool: bytes a
// Release already gave back are not given twice.
func (b *byteCap[T]) releasePooled(n int64) {
	for {
		cur := b.held.Load()
		if cur < 0 {
			return
		}
		if b.held.CompareAndSwap(cur, cur-n) {
			b.pool.give(b.pooled(cur) - b.pooled(cur-n))
			return
		}
	}
}

// giveBack closes the bound: what it holds goes back to its pool and every
// later write is refused. A nil bound, or one without a pool, is left as
// it is.
func (b *byteCap[T]) giveBack() {
	if b == nil || b.pool == nil {
		return
	}
	for {
		cur := b.held.Load()
		if cur < 0 {
			return
		}
		if b.held.CompareAndSwap(cur, releasedHeld) {
			b.pool.give(b.pooled(cur))
			return
		}
	}
}

// Release gives the bytes of the elements d holds back to its pool
// (WithBytePool) and refuses every later write, counting it as dropped:
// call it when throwing d away. Its elements may still be read; their
// bytes are not given back twice. Without a pool it does nothing. It is
// safe to call concurrently with Set and TryNext, and more than once.
func (d *OneToOne[T]) Release() { d.r.bc.giveBack() }

// Release is OneToOne.Release for a ManyToOne.
func (d *ManyToOne[T]) Release() { d.r.bc.giveBack() }

// Release is OneToOne.Release for a Channel.
func (d *Channel[T]) Release() { d.bc.giveBack() }
