package serve

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/sluicelog/sluice/internal/batch"
)

// DefaultSendTimeout is how long a Server waits for one send on a stream
// (a batch on BatchedReceiver, an envelope on Receiver) before it evicts a
// client that does not read: the Gateway's DefaultWriteTimeout.
const DefaultSendTimeout = DefaultWriteTimeout

// WithSendTimeout sets how long a Server waits for one send on a stream
// (default DefaultSendTimeout; 0: forever). gRPC's flow control makes a
// send block once a client stops reading; when one blocks for that long,
// the Server evicts the stream: it ends it with codes.DeadlineExceeded
// ("client is not reading"), counts it in ServerStats.Evicted, counts the
// envelopes of the blocked send as dropped under the stream's shard ID
// with cause CauseWriteTimeout, and leaves the shard group at once (what
// the subscription still held is counted by the Router under the shard
// ID).
func WithSendTimeout(d time.Duration) ServerOption {
	return serverOptionFunc(func(c *serverConfig) { c.sendTimeout = d })
}

// sendWatch is a stream's watchdog: one timer, armed around each send and
// stopped after it, so no goroutine is spent per send. A nil *sendWatch
// (no timeout) never fires.
type sendWatch struct {
	d    time.Duration
	t    *time.Timer
	hit  atomic.Bool
	once sync.Once
	fire chan struct{} // closed when a send blocked for d
}

func newSendWatch(d time.Duration) *sendWatch {
	if d <= 0 {
		return nil
	}
	w := &sendWatch{d: d, fire: make(chan struct{})}
	w.t = time.AfterFunc(d, w.trip)
	w.t.Stop()
	return w
}

func (w *sendWatch) trip() {
	w.once.Do(func() {
		w.hit.Store(true)
		close(w.fire)
	})
}

// arm starts the clock before a send; disarm stops it after.
func (w *sendWatch) arm() {
	if w != nil {
		w.t.Reset(w.d)
	}
}

func (w *sendWatch) disarm() {
	if w != nil {
		w.t.Stop()
	}
}

// stop is disarm, for the handler's way out.
func (w *sendWatch) stop() { w.disarm() }

// fired reports whether a send blocked for the timeout.
func (w *sendWatch) fired() bool { return w != nil && w.hit.Load() }

// runWatched runs the stream's batching. Without a watch it runs on the
// handler's goroutine. With one it runs on a goroutine of its own, so that
// the handler can return when a send blocks too long: returning is the one
// way a grpc handler ends its stream, and ending it (grpc cancels the
// stream) is what unblocks the send, whose batch flush then counts under
// CauseWriteTimeout. The goroutine counts in s.handlers, so Shutdown and
// Close wait for it. evicted reports that the watch fired first.
func (s *Server) runWatched(ctx context.Context, sub Subscription, cfg batch.Config, flush func([][]byte), w *sendWatch) (err error, evicted bool) {
	if w == nil {
		return batch.Run(ctx, sub, cfg, flush), false
	}
	done := make(chan error, 1)
	s.handlers.Add(1) // the handler holds one already: no race with Wait
	go func() {
		defer s.handlers.Done()
		done <- batch.Run(ctx, sub, cfg, flush)
	}()
	select {
	case err := <-done:
		return err, false
	case <-w.fire:
		select {
		case err := <-done: // the send ended after all, and so did the stream
			return err, false
		default:
			return nil, true
		}
	}
}

// evict counts and logs the eviction of a stream whose client reads
// nothing and returns the status that ends it.
func (s *Server) evict(shard, peer string) error {
	s.mu.Lock()
	s.evicted++
	s.mu.Unlock()
	s.cfg.logger.Warn("serve: evicted a stream whose client is not reading", "shard_id", shard, "peer", peer, "send_timeout", s.cfg.sendTimeout)
	return status.Errorf(codes.DeadlineExceeded, "serve: client is not reading: a send blocked for %v, stream evicted", s.cfg.sendTimeout)
}
