package forward

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/keepalive"

	"github.com/sluicelog/sluice/discovery"
	"github.com/sluicelog/sluice/internal/tlswatch"
	"github.com/sluicelog/sluice/internal/wire"
	"github.com/sluicelog/sluice/stats"
)

// Pool errors.
var (
	// ErrPoolClosed is returned by Write after Shutdown or Close.
	ErrPoolClosed = errors.New("forward: pool closed")
	// ErrInvalidConfig wraps every invalid argument or option given to
	// NewPool, NewForwarder and NewFanout.
	ErrInvalidConfig = errors.New("forward: invalid configuration")
)

// Causes of the drops a Pool reports (PoolResult.Cause, PoolStats.Dropped).
const (
	// CauseNoRouters: discovery knows no router and no stream is up.
	CauseNoRouters = "no_routers"
	// CauseUnreachable: routers are known but no stream came up within
	// the wait (WithWait).
	CauseUnreachable = "unreachable"
	// CauseSendFailed: the batch failed on two streams.
	CauseSendFailed = "send_failed"
	// CauseClosed: the pool was closed (Close, or Shutdown whose
	// context ended) while it held the batch.
	CauseClosed = stats.CauseClosed
	// CauseTooLarge: the batch is larger than WithMaxMessageSize.
	CauseTooLarge = stats.CauseTooLarge
)

// PoolResult is the outcome of one batch given to Pool.Write. Every accepted
// batch has exactly one.
type PoolResult struct {
	// Batch is the batch given to Write, handed back: the caller owns it
	// again and may reuse the outer slice.
	Batch [][]byte
	// Sent reports success: in streaming mode the batch was written to a
	// stream, in acknowledged mode a router confirmed it.
	Sent bool
	// Cause says why the batch was dropped when Sent is false (one of the
	// Cause constants).
	Cause string
	// Retried reports that the batch failed once and was tried on another
	// stream.
	Retried bool
}

// PoolDoneFunc receives the outcome of one batch. It runs on a pool
// goroutine (or in Write's caller) and must be quick and must not block.
type PoolDoneFunc func(PoolResult)

// PoolStats is a snapshot of a Pool's counters. Envelope counts are in
// envelopes, batch counts in batches.
type PoolStats struct {
	// Streams is the number of streams up: the telemetry gauge
	// doppler_connections.
	Streams int
	// StreamsByRouter counts the streams up per router address.
	StreamsByRouter map[string]int
	// StreamsByZone counts the streams up per router zone.
	StreamsByZone map[string]int
	// Routers is how many routers discovery currently gives the pool.
	Routers int
	// NoRouters is true while discovery knows no router ("No dopplers
	// listening"): writes without a stream are dropped with
	// CauseNoRouters.
	NoRouters bool
	// Writes counts the batches accepted by Write.
	Writes uint64
	// Sent counts the envelopes written to a stream (streaming) or confirmed
	// by a router (acknowledged): the telemetry counter egress.
	Sent uint64
	// Failures counts the batch writes or Send calls that failed.
	Failures uint64
	// Retries counts batches tried again on another stream after a failure.
	Retries uint64
	// Dropped counts dropped envelopes by cause (the Cause constants): the
	// telemetry counter dropped{direction=egress}.
	Dropped stats.Drops
	// Unconfirmed counts, in streaming mode, the envelopes written to a
	// stream shortly before it broke: those whose batches lie within the
	// last WithUnconfirmedBound bytes the stream carried. They are
	// counted as Sent too; what was actually lost is at most this. Always 0
	// in acknowledged mode.
	Unconfirmed uint64
	// Connects counts streams opened; Recycles counts streams closed on
	// purpose (interval, rebalancing, moving back to the local zone).
	Connects, Recycles uint64
	// AckUnsupported counts, in acknowledged mode, the routers that
	// answered Send with Unimplemented (Loggregator's router does): the pool
	// streams to them instead, unacknowledged, and logs one warning per
	// router.
	AckUnsupported uint64
	// TLSFailures counts failed TLS handshakes with routers by cause
	// (`tls_handshake_failures{cause}`: not_tls, bad_certificate,
	// peer_rejected, timeout, closed, other, and plaintext_to_tls for a
	// router that speaks TLS dialed in plaintext); each episode of a
	// router is also logged at warn. Nil when none failed.
	TLSFailures map[string]uint64
	// TLSFailing is how many of the Routers failed their last TLS
	// handshake. When it equals Routers (and is not 0), no router can be
	// reached for TLS reasons alone; the pool logs that once per episode.
	TLSFailing int
}

// Pool keeps a few streams to routers and spreads batches over them: the
// agent's way out (Loggregator's agent keeps 5 streams to dopplers).
//
// # Choosing routers
//
// Each stream goes to a router chosen at random among the healthy routers of
// the pool's zone (WithZone), a different router for each stream while the
// zone has enough of them (streams go to the routers holding the fewest
// streams first). Routers of other zones are used only while no router of
// the local zone is reachable; meanwhile the pool redials the local routers
// every probe interval (WithProbe) and moves the streams back as soon as
// one answers. A router whose stream failed is left alone for an exponential
// backoff with jitter (WithBackoff). Each stream is recycled after a
// random time in [3/4, 1] of the recycle interval (WithRecycle, default 3
// minutes), and the pool also moves a stream at once when discovery adds a
// router that has none, when a router holds two streams while a healthy one
// holds none, or when a stream's router left discovery. So a new router gets
// traffic within one interval and none stays idle after a rolling restart.
//
// Discovery that fails, or answers with an empty set, never tears down
// streams that work: the pool keeps the last set it had. With no router
// known the pool keeps running and trying, drops what it is given with
// CauseNoRouters and reports NoRouters in Stats; it never panics or
// exits.
//
// # Writing
//
// Write hands a batch (envelope wire bytes) to the next stream that is up,
// round robin. It blocks only while every stream's queue is full (the
// backpressure then lands in the buffer in front of the Forwarder, where a
// diode drops and counts), and while routers are known but no stream is up,
// for at most WithWait. A batch whose write fails is tried once on
// another stream, then dropped with CauseSendFailed. Each accepted batch
// gets exactly one PoolResult through the PoolDoneFunc given to Write, which
// is how the Forwarder's counters stay exact.
//
// # Choosing a mode
//
// Streaming (default) writes batches on BatchSender client streams,
// like Loggregator's agent. It is the fastest mode and works with every
// Loggregator router. gRPC client streams carry no acknowledgement: what a
// stream carried in the moments before its connection broke may be lost
// without anyone knowing. The pool counts it as Unconfirmed, estimated as the
// batches within the last WithUnconfirmedBound bytes (default 256 KiB) the
// stream carried: the router's HTTP/2 stream window (64 KiB in grpc-go
// unless BDP estimation enlarges it) plus grpc-go's 64 KiB client write
// quota. A stream closed on purpose (recycling, Shutdown) waits for the
// router's answer, which confirms everything it carried.
//
// Acknowledged sends each batch with the unary Send call, with several
// in flight per stream (WithInflight, default 4). A batch counts as sent
// only when the router confirmed it; one not confirmed (error, reset,
// timeout) is retried once on another stream, else dropped and counted. A
// broken connection therefore leaves no uncounted loss. A batch whose answer
// was lost after the router took it may arrive twice, or arrive and still be
// counted dropped: the books may overstate loss, never understate it. It costs a round trip
// per batch per in-flight slot. Loggregator's own router does not implement
// Send (only sluice routers do): a router that answers Send with
// Unimplemented gets streaming instead, its refused batches first (it
// received none of them); the pool logs one warning per such router and
// counts it in PoolStats.AckUnsupported.
//
// Pick streaming for throughput when the occasional unconfirmed window after
// a network fault is acceptable (it is the firehose's own trade-off); pick
// acknowledged when loss must always be accounted for, e.g. when testing
// where envelopes drop, or over unreliable networks. BenchmarkPool measures
// both (Forwarder and Pool, 5 streams, mutual TLS, loopback, one 2-core
// machine that also runs the router); its figures and command are in the
// README's benchmark table. Neither mode allocates per envelope. Raise
// WithInflight when the round trip to the routers is longer than
// loopback's.
//
// # Why not grpc's resolver and balancer
//
// grpc-go's balancer picks a backend per RPC, and a client stream stays on
// the backend it was picked on. The pool needs to decide per stream, with
// distinct routers, zone fallback and exact per-stream accounting (which
// stream carried which batch, which router it was on when it broke), and to
// recycle streams one at a time. Expressing that through a picker would
// need the picker to know which streams already exist, and the API is
// experimental and its registry global. The pool therefore keeps one
// grpc.ClientConn per router (pick_first underneath, grpc's own reconnect
// backoff and keepalive) and chooses routers itself; no grpc balancer or
// resolver type appears in the API.
//
// # Keepalive and TLS
//
// Connections ping after WithKeepalive's time without activity (default
// 15s) and are closed when a ping is not answered in time, so a router that
// vanished without closing its connections is noticed within seconds.
// Routers must allow pings that often. WithTLS sets TLS or mutual TLS.
type Pool struct {
	cfg      poolConfig
	src      discovery.Source
	dialOpts []grpc.DialOption

	ctx        context.Context // ends on Close: aborts streams and calls
	cancel     context.CancelFunc
	stopCtx    context.Context // ends when the pool stops (Shutdown's end or Close)
	stopCancel context.CancelFunc

	wg       sync.WaitGroup // background goroutines
	accepted sync.WaitGroup // accepted batches without a result yet
	aborted  atomic.Bool
	shutOnce sync.Once

	mu        sync.Mutex
	closed    bool
	routers   map[string]*poolRouter
	slots     []*poolSlot
	ups       []*poolSlot   // slots whose stream is up
	upCh      chan struct{} // closed and replaced when ups changes
	changedCh chan struct{} // closed and replaced when routers change
	noRouters bool
	seen      bool
	downSince time.Time // when the last stream went down (or the pool started)
	drops     stats.Drops

	rr                              atomic.Uint64
	writes, sent, failures, retries atomic.Uint64
	unconfirmed, connects, recycles atomic.Uint64
	ackFallbacks                    atomic.Uint64

	tlsWatch      *tlswatch.Watch // handshakes with routers (pool_tls.go)
	creds         credentials.TransportCredentials
	tlsAllFailing bool // under mu: every router failed TLS, logged
}

type poolItem struct {
	batch   [][]byte
	done    PoolDoneFunc
	retried bool
}

type poolSlot struct {
	id     int
	queue  chan *poolItem
	move   chan struct{} // asks the stream to close gracefully and move
	router *poolRouter   // assigned router (under Pool.mu)
	up     bool
	since  time.Time
	recent poolRecent // slot goroutine only
}

type poolRouter struct {
	key      string
	ep       discovery.Endpoint
	cc       *grpc.ClientConn
	streams  int // slots assigned
	failures int
	retryAt  time.Time
	removed  bool
	noAck    atomic.Bool // answered Send with Unimplemented: stream to it
}

// NewPool starts a pool of streams to the routers src gives. The pool dials
// in the background: Write may be called at once.
func NewPool(src discovery.Source, opts ...PoolOption) (*Pool, error) {
	if src == nil {
		return nil, fmt.Errorf("%w: nil discovery source", ErrInvalidConfig)
	}
	cfg := poolDefaults()
	for _, o := range opts {
		if o != nil {
			o.applyPool(&cfg)
		}
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	creds := insecure.NewCredentials()
	if cfg.tls != nil {
		creds = credentials.NewTLS(cfg.tls)
	}
	watch := tlswatch.NewClient("forward", "router", cfg.logger)
	p := &Pool{
		cfg:      cfg,
		src:      src,
		tlsWatch: watch,
		creds:    creds,
		dialOpts: []grpc.DialOption{
			wire.DialOption(),
			grpc.WithDefaultCallOptions(grpc.MaxCallSendMsgSize(cfg.maxMsg)),
			grpc.WithKeepaliveParams(keepalive.ClientParameters{
				Time: cfg.kaTime, Timeout: cfg.kaTimeout, PermitWithoutStream: true,
			}),
			grpc.WithConnectParams(grpc.ConnectParams{
				Backoff: backoff.Config{
					BaseDelay: cfg.backoffBase, Multiplier: 1.6, Jitter: 0.2, MaxDelay: cfg.backoffMax,
				},
				MinConnectTimeout: cfg.connectTO,
			}),
		},
		routers:   make(map[string]*poolRouter),
		upCh:      make(chan struct{}),
		changedCh: make(chan struct{}),
		noRouters: true,
		downSince: time.Now(),
	}
	p.ctx, p.cancel = context.WithCancel(context.Background())
	p.stopCtx, p.stopCancel = context.WithCancel(p.ctx)
	p.applyState(src.State())
	for i := range cfg.streams {
		s := &poolSlot{id: i, queue: make(chan *poolItem, cfg.queue), move: make(chan struct{}, 1)}
		p.slots = append(p.slots, s)
	}
	p.wg.Add(1 + len(p.slots))
	go p.runManager()
	for _, s := range p.slots {
		go p.runSlot(s)
	}
	return p, nil
}

// Write hands batch (one envelope's wire bytes per element) to the pool,
// which takes ownership of it until done receives it back in the PoolResult.
// When Write returns nil, done (if not nil) is called exactly once with the
// outcome. Write blocks while every stream's queue is full, and while routers
// are known but no stream is up (at most WithWait). It returns
// ErrPoolClosed after Shutdown or Close, and ctx's error when ctx ends before
// the batch was accepted; done is not called then.
func (p *Pool) Write(ctx context.Context, batch [][]byte, done PoolDoneFunc) error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return ErrPoolClosed
	}
	p.accepted.Add(1)
	p.mu.Unlock()
	p.writes.Add(1)
	it := &poolItem{batch: batch, done: done}
	if batchTooLarge(batch, p.cfg.maxMsg) {
		p.finish(it, false, CauseTooLarge)
		return nil
	}
	if err := p.dispatch(ctx, it, nil); err != nil {
		p.writes.Add(^uint64(0))
		p.accepted.Done()
		return err
	}
	return nil
}

func batchTooLarge(batch [][]byte, max int) bool {
	n := 0
	for _, e := range batch {
		n += wire.FramedSize(len(e))
		if n > max {
			return true
		}
	}
	return false
}

// dispatch queues it on an up stream other than exclude, round robin. It
// returns an error only when ctx ends first (it is then not accepted);
// otherwise it is queued or finished.
func (p *Pool) dispatch(ctx context.Context, it *poolItem, exclude *poolSlot) error {
	var deadline <-chan time.Time
	for {
		p.mu.Lock()
		ups, upCh, noRouters, downSince := p.ups, p.upCh, p.noRouters, p.downSince
		p.mu.Unlock()
		n := len(ups)
		if n == 1 && ups[0] == exclude {
			n = 0
		}
		if n == 0 {
			if noRouters {
				p.finish(it, false, CauseNoRouters)
				return nil
			}
			if deadline == nil {
				// Wait for a stream at most waitUp after the last one went
				// down: later batches are dropped at once, not each after
				// its own wait.
				wait := p.cfg.waitUp - time.Since(downSince)
				if wait <= 0 {
					p.finish(it, false, CauseUnreachable)
					return nil
				}
				t := time.NewTimer(wait)
				defer t.Stop()
				deadline = t.C
			}
			select {
			case <-upCh:
				continue
			case <-deadline:
				p.finish(it, false, CauseUnreachable)
				return nil
			case <-ctx.Done():
				return ctx.Err()
			case <-p.ctx.Done():
				p.finish(it, false, CauseClosed)
				return nil
			}
		}
		start := int(p.rr.Add(1) % uint64(len(ups)))
		var first *poolSlot
		for i := range ups {
			s := ups[(start+i)%len(ups)]
			if s == exclude {
				continue
			}
			if first == nil {
				first = s
			}
			select {
			case s.queue <- it:
				return nil
			default:
			}
		}
		select {
		case first.queue <- it:
			return nil
		case <-upCh:
		case <-ctx.Done():
			return ctx.Err()
		case <-p.ctx.Done():
			p.finish(it, false, CauseClosed)
			return nil
		}
	}
}

// finish records it's outcome and reports it.
func (p *Pool) finish(it *poolItem, sent bool, cause string) {
	n := uint64(len(it.batch))
	if sent {
		p.sent.Add(n)
	} else {
		p.mu.Lock()
		p.drops.Add(cause, n)
		p.mu.Unlock()
	}
	if it.done != nil {
		it.done(PoolResult{Batch: it.batch, Sent: sent, Cause: cause, Retried: it.retried})
	}
	p.accepted.Done()
}

// failed handles a batch whose write failed on from (already marked down):
// one more try elsewhere, then a drop.
func (p *Pool) failed(it *poolItem, from *poolSlot) {
	p.failures.Add(1)
	switch {
	case p.aborted.Load():
		p.finish(it, false, CauseClosed)
	case it.retried:
		p.finish(it, false, CauseSendFailed)
	default:
		it.retried = true
		p.retries.Add(1)
		if p.dispatch(p.ctx, it, from) != nil {
			p.finish(it, false, CauseClosed)
		}
	}
}

// requeue hands a batch that waited on a stream that went down (never
// written) to another stream, without counting a retry.
func (p *Pool) requeue(it *poolItem, from *poolSlot) {
	if p.aborted.Load() {
		p.finish(it, false, CauseClosed)
		return
	}
	if p.dispatch(p.ctx, it, from) != nil {
		p.finish(it, false, CauseClosed)
	}
}

// flushQueue requeues whatever waits in s's queue (s is down).
func (p *Pool) flushQueue(s *poolSlot) {
	for {
		select {
		case it := <-s.queue:
			p.requeue(it, s)
		default:
			return
		}
	}
}

// Stats returns a snapshot of the pool's counters.
func (p *Pool) Stats() PoolStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	st := PoolStats{
		Streams:         len(p.ups),
		StreamsByRouter: make(map[string]int),
		StreamsByZone:   make(map[string]int),
		NoRouters:       p.noRouters,
		Dropped:         p.drops.Clone(),
		Writes:          p.writes.Load(),
		Sent:            p.sent.Load(),
		Failures:        p.failures.Load(),
		Retries:         p.retries.Load(),
		Unconfirmed:     p.unconfirmed.Load(),
		Connects:        p.connects.Load(),
		Recycles:        p.recycles.Load(),
		AckUnsupported:  p.ackFallbacks.Load(),
		TLSFailures:     p.tlsWatch.Failures(),
	}
	for _, r := range p.routers {
		if !r.removed {
			st.Routers++
		}
	}
	st.TLSFailing = p.tlsFailingLocked()
	for _, s := range p.ups {
		if s.router != nil {
			st.StreamsByRouter[s.router.ep.Addr]++
			st.StreamsByZone[s.router.ep.Zone]++
		}
	}
	return st
}

func (p *Pool) beginClose() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	was := p.closed
	p.closed = true
	return !was
}

// Shutdown stops accepting batches, lets the streams send every batch
// already accepted, closes them gracefully (in streaming mode the routers'
// answers confirm what they carried) and releases the connections. When ctx
// ends first it calls Close and returns ctx's error. Safe to call twice and
// after Close.
func (p *Pool) Shutdown(ctx context.Context) error {
	p.beginClose()
	select {
	case <-poolWaitChan(&p.accepted):
	case <-ctx.Done():
		p.Close()
		return ctx.Err()
	}
	p.stopCancel()
	select {
	case <-poolWaitChan(&p.wg):
	case <-ctx.Done():
		p.Close()
		return ctx.Err()
	}
	p.release2()
	return nil
}

// Close stops the pool at once: batches it holds are dropped with
// CauseClosed (counted), streams are cancelled. Safe to call twice.
func (p *Pool) Close() error {
	p.beginClose()
	p.aborted.Store(true)
	p.cancel()
	p.wg.Wait()
	done := poolWaitChan(&p.accepted)
	for {
		for _, s := range p.slots {
			p.dropQueue(s)
		}
		select {
		case <-done:
			p.release2()
			return nil
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// poolWaitChan returns a channel closed when wg's count reaches zero. The
// goroutine behind it ends then; the pool guarantees that it does (Close
// finishes every accepted batch and ends every goroutine).
func poolWaitChan(wg *sync.WaitGroup) <-chan struct{} {
	ch := make(chan struct{})
	go func() {
		wg.Wait()
		close(ch)
	}()
	return ch
}

// release2 closes every connection (once the goroutines are gone).
func (p *Pool) release2() {
	p.shutOnce.Do(func() {
		p.cancel()
		p.mu.Lock()
		ccs := make([]*grpc.ClientConn, 0, len(p.routers))
		for _, r := range p.routers {
			ccs = append(ccs, r.cc)
		}
		p.mu.Unlock()
		for _, cc := range ccs {
			_ = cc.Close()
		}
	})
}
