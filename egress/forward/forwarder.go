package forward

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluicelog/sluice/diode"
	"github.com/sluicelog/sluice/internal/batch"
	"github.com/sluicelog/sluice/stats"
)

// Forwarder errors.
var (
	// ErrForwarderRunning is returned by Run while the forwarder runs.
	ErrForwarderRunning = errors.New("forward: forwarder already running")
)

// CauseShutdown is the drop cause of batches the forwarder could
// not hand to its destination within the drain timeout after Run's context
// ended.
const CauseShutdown = stats.CauseShutdown

// ForwarderDestination is where a Forwarder writes batches; *Pool is one.
// Write follows Pool.Write's contract: when it returns nil, done is called
// exactly once with the batch's outcome; when it returns an error, done is
// not called and the batch is the caller's again.
type ForwarderDestination interface {
	Write(ctx context.Context, batch [][]byte, done PoolDoneFunc) error
}

var _ ForwarderDestination = (*Pool)(nil)

// ForwarderStats is a snapshot of a Forwarder's counters, in envelopes.
// After Run returns, Read == Egress + Dropped.Total().
type ForwarderStats struct {
	// Read counts the envelopes read from the buffer.
	Read uint64
	// Egress counts the envelopes the destination sent (in acknowledged mode:
	// that a router confirmed): the telemetry counter egress.
	Egress uint64
	// Dropped counts the envelopes dropped after they were read, by cause
	// (the Pool's Cause constants, CauseShutdown): the telemetry counter
	// dropped{direction=egress}. Drops in the buffer itself are the buffer's
	// (diode.Stats.Dropped).
	Dropped stats.Drops
	// Pending counts the envelopes handed to the destination that have no
	// outcome yet.
	Pending uint64
	// Batches counts the batches handed to the destination.
	Batches uint64
}

// Forwarder reads envelopes (wire bytes) from a buffer, batches them by size
// and age, and writes the batches to a destination, normally a Pool. It
// counts every envelope it read as egress or as dropped with the cause the
// destination reported, so the agent's accounting stays exact:
//
//	written to the buffer == buffer drops + Egress + Dropped.Total()
//
// once Run has returned.
type Forwarder struct {
	buf     diode.Buffer[[]byte]
	dst     ForwarderDestination
	cfg     forwarderConfig
	running atomic.Bool

	read, egress, batches, pendingEnv atomic.Uint64
	pending                           sync.WaitGroup
	mu                                sync.Mutex
	dropped                           stats.Drops
	free                              chan [][]byte
	done                              PoolDoneFunc
}

// NewForwarder returns a Forwarder from buf to dst; Run starts it.
func NewForwarder(buf diode.Buffer[[]byte], dst ForwarderDestination, opts ...ForwarderOption) (*Forwarder, error) {
	if buf == nil || dst == nil {
		return nil, fmt.Errorf("%w: buffer and destination are required", ErrInvalidConfig)
	}
	cfg := forwarderConfig{drain: 5 * time.Second, logger: slog.New(slog.DiscardHandler)}
	for _, o := range opts {
		if o != nil {
			o.applyForwarder(&cfg)
		}
	}
	if cfg.batch.Size < 0 || cfg.batch.Interval < 0 || cfg.drain <= 0 {
		return nil, fmt.Errorf("%w: negative batch size or interval, or drain timeout <= 0", ErrInvalidConfig)
	}
	f := &Forwarder{buf: buf, dst: dst, cfg: cfg, free: make(chan [][]byte, 64)}
	f.done = f.onResult
	return f, nil
}

// Run forwards until ctx ends, then hands what the buffer still holds to the
// destination (for at most the drain timeout), waits for the outcome of
// every batch it handed over and returns nil. It returns
// ErrForwarderRunning when already running.
func (f *Forwarder) Run(ctx context.Context) error {
	if !f.running.CompareAndSwap(false, true) {
		return ErrForwarderRunning
	}
	defer f.running.Store(false)
	wctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	var timer *time.Timer
	var tmu sync.Mutex
	stop := context.AfterFunc(ctx, func() {
		tmu.Lock()
		timer = time.AfterFunc(f.cfg.drain, cancel)
		tmu.Unlock()
	})
	defer func() {
		stop()
		tmu.Lock()
		if timer != nil {
			timer.Stop()
		}
		tmu.Unlock()
	}()
	err := batch.Run(ctx, f.buf, f.cfg.batch, func(b [][]byte) { f.flush(wctx, b) })
	f.pending.Wait()
	if err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return nil
}

func (f *Forwarder) flush(ctx context.Context, b [][]byte) {
	var out [][]byte
	select {
	case out = <-f.free:
	default:
	}
	out = append(out[:0], b...)
	n := uint64(len(out))
	f.read.Add(n)
	f.batches.Add(1)
	f.pendingEnv.Add(n)
	f.pending.Add(1)
	if err := f.dst.Write(ctx, out, f.done); err != nil {
		cause := CauseShutdown
		if errors.Is(err, ErrPoolClosed) {
			cause = CauseClosed
		}
		f.onResult(PoolResult{Batch: out, Cause: cause})
	}
}

// onResult is the PoolDoneFunc: it counts the outcome and recycles the slice.
func (f *Forwarder) onResult(r PoolResult) {
	n := uint64(len(r.Batch))
	if r.Sent {
		f.egress.Add(n)
	} else {
		f.mu.Lock()
		f.dropped.Add(r.Cause, n)
		f.mu.Unlock()
	}
	f.pendingEnv.Add(^(n - 1))
	if r.Batch != nil {
		clear(r.Batch)
		select {
		case f.free <- r.Batch[:0]:
		default:
		}
	}
	f.pending.Done()
}

// Stats returns a snapshot of the counters.
func (f *Forwarder) Stats() ForwarderStats {
	f.mu.Lock()
	d := f.dropped.Clone()
	f.mu.Unlock()
	return ForwarderStats{
		Read: f.read.Load(), Egress: f.egress.Load(), Dropped: d,
		Pending: f.pendingEnv.Load(), Batches: f.batches.Load(),
	}
}
