package harness

import (
	"context"
	"sync"

	"github.com/sluicelog/sluice/diode"
)

// Gate wraps a buffer so that its reader takes only as many elements as it
// has been allowed (Allow), whatever the speed of the machine: a hop whose
// capacity a study or test controls exactly, instead of by timing. Writes
// pass straight through, so the buffer's policy decides what is dropped
// while the reader waits. Open lifts the limit for good (to drain).
//
// Like the buffers it wraps, a Gate has one reader.
type Gate[T any] struct {
	buf  diode.Buffer[T]
	wake chan struct{}

	mu      sync.Mutex
	allowed uint64
	passed  uint64
	open    bool
}

var _ diode.Buffer[int] = (*Gate[int])(nil)

// NewGate returns a closed Gate in front of buf.
func NewGate[T any](buf diode.Buffer[T]) *Gate[T] {
	return &Gate[T]{buf: buf, wake: make(chan struct{}, 1)}
}

// Allow lets the reader take n more elements.
func (g *Gate[T]) Allow(n int) {
	g.mu.Lock()
	g.allowed += uint64(n)
	g.mu.Unlock()
	g.signal()
}

// AllowOnly lets the reader take n more elements from now on, whatever
// it was allowed before and did not take: a capacity of n per round for a
// reader that may find less to read than it may take.
func (g *Gate[T]) AllowOnly(n int) {
	g.mu.Lock()
	g.allowed = g.passed + uint64(n)
	g.mu.Unlock()
	g.signal()
}

// Open lets the reader take everything from now on.
func (g *Gate[T]) Open() {
	g.mu.Lock()
	g.open = true
	g.mu.Unlock()
	g.signal()
}

// Passed returns how many elements the reader has taken.
func (g *Gate[T]) Passed() uint64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.passed
}

func (g *Gate[T]) signal() {
	select {
	case g.wake <- struct{}{}:
	default:
	}
}

// permitted reports whether the reader may take one more element.
func (g *Gate[T]) permitted() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.open || g.passed < g.allowed
}

func (g *Gate[T]) took() {
	g.mu.Lock()
	g.passed++
	g.mu.Unlock()
}

// Set writes v to the buffer.
func (g *Gate[T]) Set(v T) { g.buf.Set(v) }

// TryNext returns the buffer's next element if the reader may take one.
func (g *Gate[T]) TryNext() (T, bool) {
	if !g.permitted() {
		var zero T
		return zero, false
	}
	v, ok := g.buf.TryNext()
	if ok {
		g.took()
	}
	return v, ok
}

// Next waits until the reader may take an element and the buffer has one,
// or ctx ends.
func (g *Gate[T]) Next(ctx context.Context) (T, error) {
	for !g.permitted() {
		select {
		case <-g.wake:
		case <-ctx.Done():
			var zero T
			return zero, ctx.Err()
		}
	}
	// One reader: nobody else can use up the permit meanwhile.
	v, err := g.buf.Next(ctx)
	if err == nil {
		g.took()
	}
	return v, err
}

// Stats returns the buffer's counters.
func (g *Gate[T]) Stats() diode.Stats { return g.buf.Stats() }
