package batch

import (
	"context"
	"time"
)

// Filler is a Reader whose reader can sleep until the buffer holds a
// given number of items, instead of waking at every write: Run, holding
// a partial batch, waits so for the rest of it. A writer that wakes its
// reader at every burst of writes costs the reader a wake-up (and, with
// more than one processor, often a thread's) per burst; a Filler's writer
// wakes it once the batch can be filled.
type Filler interface {
	// WaitFill sleeps until the buffer holds at least n items, d has
	// passed or ctx ends. It may return earlier. It returns ctx.Err()
	// when ctx ended, another error when the buffer can no longer be read
	// (as Next would), and nil otherwise.
	WaitFill(ctx context.Context, n int, d time.Duration) error
}

// waitPartial waits, holding a partial batch of have items, for the rest
// of a batch of size or at most wait, and returns what arrived appended to
// batch. With a Filler it sleeps until the batch
// can be filled; otherwise until the next item (Next).
func waitPartial[T any](ctx context.Context, buf Reader[T], batch []T, size int, wait time.Duration) ([]T, error) {
	if f, ok := buf.(Filler); ok {
		if err := f.WaitFill(ctx, size-len(batch), wait); err != nil {
			return batch, err
		}
		had := len(batch)
		batch = takeFrom(buf, batch, size)
		if len(batch) == had {
			// Nothing came in wait: the buffer stayed empty (Idle).
			return batch, context.DeadlineExceeded
		}
		return batch, nil
	}
	wctx, cancel := context.WithTimeout(ctx, wait)
	v, err := buf.Next(wctx)
	cancel()
	if err != nil {
		return batch, err
	}
	return append(batch, v), nil
}
