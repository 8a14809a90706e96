package diode

import (
	"context"
	"sync/atomic"
)

// Nop is a Buffer that discards what it is given: Set counts the element as
// written and dropped, TryNext never has anything and Next waits for its
// context. Benchmarks use it to measure a component without its consumer.
type Nop[T any] struct {
	written atomic.Uint64
}

var _ Buffer[int] = (*Nop[int])(nil)

// Discard returns a new Nop buffer.
func Discard[T any]() *Nop[T] { return &Nop[T]{} }

// Set counts v and drops it.
func (d *Nop[T]) Set(T) { d.written.Add(1) }

// TryNext always returns false.
func (d *Nop[T]) TryNext() (v T, ok bool) { return v, false }

// Next waits until ctx is done and returns ctx.Err().
func (d *Nop[T]) Next(ctx context.Context) (v T, err error) {
	<-ctx.Done()
	return v, ctx.Err()
}

// Stats reports every write as dropped.
func (d *Nop[T]) Stats() Stats {
	n := d.written.Load()
	return Stats{Written: n, Dropped: n}
}
