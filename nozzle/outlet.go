package nozzle

import (
	"context"
	"errors"
	"iter"
	"sync"
	"sync/atomic"

	"github.com/sluicelog/sluice/diode"
	"github.com/sluicelog/sluice/envelope"
)

// outlet is the buffer between the streams (writers, any number) and the
// consumer (one reader at a time), with the slow-consumer bookkeeping and the
// Close/Shutdown states that Reader, Firehose and GatewayReader share.
//
// Slow-consumer episodes: a writer that finds Dropped above the baseline
// starts an episode (one CompareAndSwap wins among writers) and reports it;
// the reader ends the episode when it finds the buffer empty, moving the
// baseline to the drops so far. Writers check once per batch, so the report
// comes as soon as a batch finds the buffer full, even while the consumer is
// stuck.
type outlet[T any] struct {
	buf    *diode.Channel[T]
	onSlow func(*SlowConsumerError)

	episode  atomic.Bool
	baseline atomic.Uint64 // Dropped when the last episode ended
	episodes atomic.Uint64
	pending  atomic.Pointer[SlowConsumerError] // for the iterator

	state      atomic.Int32 // stateOpen, stateDraining, stateClosed
	wake       context.Context
	wakeCancel context.CancelFunc // wakes blocked readers on a state change
	drained    chan struct{}
	drainOnce  sync.Once

	// the writers' loop (start, stopWriters)
	cancel   context.CancelFunc
	done     chan struct{}
	stopOnce sync.Once
}

const (
	stateOpen int32 = iota
	stateDraining
	stateClosed
)

func newOutlet[T any](size int, onSlow func(*SlowConsumerError), opts ...diode.Option) (*outlet[T], error) {
	buf, err := diode.NewChannel[T](size, opts...)
	if err != nil {
		return nil, invalid("buffer: %v", err)
	}
	if onSlow == nil {
		onSlow = func(*SlowConsumerError) {}
	}
	o := &outlet[T]{buf: buf, onSlow: onSlow, drained: make(chan struct{})}
	o.wake, o.wakeCancel = context.WithCancel(context.Background())
	return o, nil
}

// start runs the writers' loop on its own goroutine until stopWriters.
func (o *outlet[T]) start(run func(ctx context.Context)) {
	ctx, cancel := context.WithCancel(context.Background())
	o.cancel, o.done = cancel, make(chan struct{})
	go func() {
		defer close(o.done)
		run(ctx)
	}()
}

// stopWriters ends the writers' loop and waits for it: nothing is put after
// it returns.
func (o *outlet[T]) stopWriters() {
	o.stopOnce.Do(o.cancel)
	<-o.done
}

// closeNow is Close of Reader, Firehose and GatewayReader.
func (o *outlet[T]) closeNow() error {
	o.stopWriters()
	o.close()
	return nil
}

// shutdown is their Shutdown.
func (o *outlet[T]) shutdown(ctx context.Context) error {
	o.stopWriters()
	return o.drain(ctx)
}

// put hands v to the buffer; it never blocks.
func (o *outlet[T]) put(v T) { o.buf.Set(v) }

// check starts a slow-consumer episode if drops happened since the last one
// ended. Writers call it after each batch.
func (o *outlet[T]) check() {
	d := o.buf.Stats().Dropped
	base := o.baseline.Load()
	if d <= base || o.episode.Load() || !o.episode.CompareAndSwap(false, true) {
		return
	}
	e := &SlowConsumerError{Dropped: d - base, Episode: o.episodes.Add(1)}
	o.pending.Store(e)
	o.onSlow(e)
}

// caughtUp ends the current episode; the reader calls it on finding the
// buffer empty.
func (o *outlet[T]) caughtUp() {
	if o.episode.Load() {
		o.baseline.Store(o.buf.Stats().Dropped)
		o.episode.Store(false)
	}
}

func (o *outlet[T]) tryNext() (T, bool) {
	var zero T
	if o.state.Load() == stateClosed {
		return zero, false
	}
	v, ok := o.buf.TryNext()
	if !ok {
		o.caughtUp()
		if o.state.Load() == stateDraining {
			o.drainOnce.Do(func() { close(o.drained) })
		}
	}
	return v, ok
}

// next returns the next element, waiting while the buffer is empty. It
// returns ErrClosed after Close, or after Shutdown once the buffer is empty,
// and ctx.Err() when ctx ends.
func (o *outlet[T]) next(ctx context.Context) (T, error) {
	var zero T
	for {
		if o.state.Load() == stateClosed {
			return zero, ErrClosed
		}
		if v, ok := o.tryNext(); ok {
			return v, nil
		}
		if err := ctx.Err(); err != nil {
			return zero, err
		}
		switch o.state.Load() {
		case stateDraining, stateClosed:
			return zero, ErrClosed
		}
		wctx, release := o.merge(ctx)
		v, err := o.buf.Next(wctx)
		release()
		if err == nil {
			return v, nil
		}
		if ctx.Err() != nil {
			return zero, ctx.Err()
		}
		// woken by a state change: loop to look again
	}
}

// merge returns a context that ends with ctx or with the next state change.
// Only the blocking path pays for it.
func (o *outlet[T]) merge(ctx context.Context) (context.Context, func()) {
	if ctx.Done() == nil {
		return o.wake, func() {}
	}
	m, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(o.wake, cancel)
	return m, func() { stop(); cancel() }
}

// seq is the iterator behind Envelopes: it yields a pending slow-consumer
// signal before the next envelope, ends quietly once closed and drained, and
// yields ctx.Err() when ctx ends.
func (o *outlet[T]) seq(ctx context.Context, decode func(T) (*envelope.Envelope, error)) iter.Seq2[*envelope.Envelope, error] {
	return func(yield func(*envelope.Envelope, error) bool) {
		for {
			if p := o.pending.Swap(nil); p != nil {
				if !yield(nil, p) {
					return
				}
			}
			v, err := o.next(ctx)
			if err != nil {
				if !errors.Is(err, ErrClosed) {
					yield(nil, err)
				}
				return
			}
			if p := o.pending.Swap(nil); p != nil {
				if !yield(nil, p) {
					return
				}
			}
			if !yield(decode(v)) {
				return
			}
		}
	}
}

// drain moves to draining (writers have stopped) and waits until the
// consumer has emptied the buffer or ctx ends; then it closes.
func (o *outlet[T]) drain(ctx context.Context) error {
	if o.state.Load() == stateClosed {
		return nil
	}
	if o.state.CompareAndSwap(stateOpen, stateDraining) {
		o.wakeCancel()
	}
	var err error
	if o.buffered() > 0 {
		select {
		case <-o.drained:
		case <-ctx.Done():
			err = ctx.Err()
		}
	}
	o.close()
	return err
}

// close discards what the buffer holds (counted) and wakes readers.
func (o *outlet[T]) close() {
	o.state.Store(stateClosed)
	o.wakeCancel()
}

func (o *outlet[T]) buffered() int {
	s := o.buf.Stats()
	return int(s.Written - s.Read - s.Dropped)
}

// fill writes the outlet's counters into st.
func (o *outlet[T]) fill(st *Stats) {
	s := o.buf.Stats()
	st.Delivered = s.Read
	st.Dropped = nil
	st.Dropped.Add(CauseOverflow, s.Dropped)
	st.SlowConsumerEpisodes = o.episodes.Load()
	if o.state.Load() == stateClosed {
		st.Dropped.Add(CauseShutdown, s.Written-s.Read-s.Dropped)
	} else {
		st.Buffered = int(s.Written - s.Read - s.Dropped)
	}
}
