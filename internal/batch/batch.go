package batch

import (
	"context"
	"errors"
	"time"

	"github.com/sluicelog/sluice/diode"
)

// Reader is the reading side of a buffer: every diode.Buffer is one, and so
// is an egress subscription.
type Reader[T any] interface {
	TryNext() (T, bool)
	Next(ctx context.Context) (T, error)
}

// BulkReader is a Reader that can also hand over up to n items at once,
// appended to dst, under one synchronization instead of one per item (an
// egress subscription takes its lock once). Run uses it when buf has it.
type BulkReader[T any] interface {
	TryNextN(dst []T, n int) []T
}

// takeFrom appends to batch what buf holds now, up to size items in all,
// in one call when buf is a BulkReader.
func takeFrom[T any](buf Reader[T], batch []T, size int) []T {
	return diode.TryNextN[T](buf, batch, size-len(batch))
}

// Config says when a batch is flushed. The zero value means Loggregator's
// defaults: 100 items, 100 ms, idle flush after 10 ms.
type Config struct {
	// Size is the most items in a batch; a full batch is flushed at once.
	Size int
	// Interval is the longest an item waits in a partial batch.
	Interval time.Duration
	// Idle flushes a partial batch when the buffer has stayed empty this
	// long, so a trickle is not delayed by Interval. Zero means Interval/10.
	Idle time.Duration
}

func (c Config) withDefaults() Config {
	if c.Size <= 0 {
		c.Size = 100
	}
	if c.Interval <= 0 {
		c.Interval = 100 * time.Millisecond
	}
	if c.Idle <= 0 || c.Idle > c.Interval {
		c.Idle = c.Interval / 10
	}
	return c
}

// FlushFunc receives a batch. The slice is reused after it returns: copy
// what must be kept (the items themselves may be kept).
type FlushFunc[T any] func(batch []T)

// Run reads buf and calls flush with batches until ctx ends. Then it drains
// what buf still holds without waiting, flushes it (in batches of at most
// Size) and returns ctx's error. flush runs on the caller's goroutine, the
// buffer's reader.
func Run[T any](ctx context.Context, buf Reader[T], cfg Config, flush FlushFunc[T]) error {
	cfg = cfg.withDefaults()
	batch := make([]T, 0, cfg.Size)
	var started time.Time
	emit := func() {
		if len(batch) > 0 {
			flush(batch)
			clear(batch)
			batch = batch[:0]
		}
	}
	for {
		// Take what is there without blocking.
		had := len(batch)
		batch = takeFrom(buf, batch, cfg.Size)
		if had == 0 && len(batch) > 0 {
			started = time.Now()
		}
		if len(batch) >= cfg.Size {
			emit()
			continue
		}
		if ctx.Err() != nil {
			emit()
			return drain(buf, cfg, batch, flush, ctx.Err())
		}
		if len(batch) == 0 {
			// Nothing held: sleep until an item or the end.
			v, err := buf.Next(ctx)
			if err != nil {
				return drain(buf, cfg, batch, flush, err)
			}
			started = time.Now()
			batch = append(batch, v)
			continue
		}
		// A partial batch: wait for more, at most until it is due.
		wait := cfg.Idle
		if due := cfg.Interval - time.Since(started); due < wait {
			wait = due
		}
		if wait <= 0 {
			emit()
			continue
		}
		var err error
		if batch, err = waitPartial(ctx, buf, batch, cfg.Size, wait); err != nil {
			emit()
			if ctx.Err() != nil {
				return drain(buf, cfg, batch, flush, ctx.Err())
			}
			if !errors.Is(err, context.DeadlineExceeded) {
				return err
			}
			continue
		}
	}
}

func drain[T any](buf Reader[T], cfg Config, batch []T, flush FlushFunc[T], err error) error {
	batch = batch[:0]
	for {
		batch = takeFrom(buf, batch, cfg.Size)
		if len(batch) < cfg.Size {
			break
		}
		flush(batch)
		clear(batch)
		batch = batch[:0]
	}
	if len(batch) > 0 {
		flush(batch)
	}
	return err
}
