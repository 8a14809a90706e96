package diode

import (
	"context"
	"errors"
	"fmt"
)

// ErrInvalidConfig wraps every error the constructors return for an
// argument they cannot use: errors.Is(err, ErrInvalidConfig).
var ErrInvalidConfig = errors.New("diode: invalid configuration")

// ErrInvalidSize is returned by the constructors when asked for a buffer that
// holds fewer than one element. It wraps ErrInvalidConfig.
var ErrInvalidSize = fmt.Errorf("%w: size must be at least 1", ErrInvalidConfig)

// Buffer is what components take; users choose the policy by choosing the
// implementation (OneToOne, ManyToOne, Channel, Fair or Discard).
type Buffer[T any] interface {
	// Set hands v to the buffer. It never blocks and never fails: when the
	// buffer has no room, something is dropped and counted instead.
	Set(v T)
	// TryNext returns the next element, or false at once when there is none.
	TryNext() (T, bool)
	// Next returns the next element, sleeping while the buffer is empty. It
	// returns ctx.Err() once ctx is done; an element still in the buffer then
	// stays there.
	Next(ctx context.Context) (T, error)
	// Stats returns a snapshot of the counters.
	Stats() Stats
}

// Stats is a snapshot of a buffer's counters. Once the writers have stopped
// and the reader has drained the buffer, Written == Read + Dropped exactly.
// While unread data remains, Read of a OneToOne or ManyToOne may trail the
// reader by fewer than 64 elements (it is stored in batches to keep reads
// cheap); Written and Dropped never trail.
type Stats struct {
	// Written counts calls to Set.
	Written uint64
	// Read counts elements returned by TryNext and Next.
	Read uint64
	// Dropped counts elements that were written and will never be read.
	// A OneToOne counts an element as soon as the writer has overwritten it
	// unread, before its reader comes to it; a ManyToOne counts it when its
	// reader skips it. It is a single count, not a stats.Drops by cause as components
	// report: a buffer drops for one cause only, overflow (a lapped reader,
	// or a full channel). Components that report a buffer's drops report
	// them as cause "overflow".
	Dropped uint64
	// Collisions counts writes of a ManyToOne that met another writer in
	// their slot (always 0 for the other kinds).
	Collisions uint64
	// Bytes is what the elements held add up to, for a buffer bounded in
	// bytes (WithMaxBytes, WithBytePool); 0 for the others, and after
	// Release.
	Bytes uint64
}

// AlertFunc is called with the number of elements dropped since the previous
// call. It runs on the reader's goroutine, inside TryNext or Next, so it must
// not call TryNext or Next itself.
type AlertFunc func(missed int)

// Alert calls f(missed).
func (f AlertFunc) Alert(missed int) { f(missed) }

// Option configures a buffer.
type Option interface{ apply(*config) }

type config struct {
	alert AlertFunc
	tally Tally // Fair only

	// WithMaxBytes: the bound and the size function, a func(T) int.
	maxBytes int64
	sizeOf   any
	bytesSet bool

	// WithBytePool: the shared pool and its size function, a func(T) int.
	pool     *BytePool
	poolSize any
	poolSet  bool
	// WithPoolReserve: bytes a buffer holds before it takes from its pool.
	poolReserve int64
}

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// WithAlert sets the drop callback. A nil f means no callback (the default).
func WithAlert(f AlertFunc) Option {
	return optionFunc(func(c *config) { c.alert = f })
}

func newConfig(size int, opts []Option) (config, error) {
	if size < 1 {
		return config{}, ErrInvalidSize
	}
	c := config{}
	for _, o := range opts {
		if o != nil {
			o.apply(&c)
		}
	}
	if c.alert == nil {
		c.alert = func(int) {}
	}
	return c, nil
}

// cacheLinePad keeps fields written by different goroutines on different
// cache lines, so that a writer and a reader do not slow each other down.
type cacheLinePad [64]byte
