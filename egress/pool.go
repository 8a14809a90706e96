package egress

import (
	"context"
	"errors"
	"math/rand/v2"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/keepalive"

	"github.com/sluicelog/sluice/discovery"
	"github.com/sluicelog/sluice/envelope"
	sbackoff "github.com/sluicelog/sluice/internal/backoff"
	"github.com/sluicelog/sluice/internal/wire"
)

// Pool errors.
var (
	// ErrPoolClosed is returned by Write after Shutdown or Close.
	ErrPoolClosed = errors.New("egress: pool closed")
	// ErrPoolNoSource is returned by NewPool without a discovery source.
	ErrPoolNoSource = errors.New("egress: pool needs a discovery source")
	// ErrPoolConfig wraps every invalid PoolOption value.
	ErrPoolConfig = errors.New("egress: invalid pool configuration")
)

// Causes of the drops a Pool reports (PoolResult.Cause, PoolStats.Dropped).
const (
	// PoolCauseNoRouters: discovery knows no router and no stream is up.
	PoolCauseNoRouters = "no_routers"
	// PoolCauseUnreachable: routers are known but no stream came up within
	// the wait (WithPoolWait).
	PoolCauseUnreachable = "unreachable"
	// PoolCauseSendFailed: the batch failed on two streams.
	PoolCauseSendFailed = "send_failed"
	// PoolCauseClosed: the pool was closed (Close, or Shutdown whose
	// context ended) while it held the batch.
	PoolCauseClosed = "closed"
	// PoolCauseTooLarge: the batch is larger than WithPoolMaxMessage.
	PoolCauseTooLarge = "too_large"
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
	// Cause says why the batch was dropped when Sent is false (PoolCause*).
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
	// PoolCauseNoRouters.
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
	// Dropped counts dropped envelopes by cause (PoolCause*): the telemetry
	// counter dropped{direction=egress}.
	Dropped map[string]uint64
	// Unconfirmed counts, in streaming mode, the envelopes written to a
	// stream shortly before it broke: those whose batches lie within the
	// last WithPoolUnconfirmedBound bytes the stream carried. They are
	// counted as Sent too; what was actually lost is at most this. Always 0
	// in acknowledged mode.
	Unconfirmed uint64
	// Connects counts streams opened; Recycles counts streams closed on
	// purpose (interval, rebalancing, moving back to the local zone).
	Connects, Recycles uint64
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
// every probe interval (WithPoolProbe) and moves the streams back as soon as
// one answers. A router whose stream failed is left alone for an exponential
// backoff with jitter (WithPoolBackoff). Each stream is recycled after a
// random time in [3/4, 1] of the recycle interval (WithRecycle, default 3
// minutes), and the pool also moves a stream at once when discovery adds a
// router that has none, when a router holds two streams while a healthy one
// holds none, or when a stream's router left discovery. So a new router gets
// traffic within one interval and none stays idle after a rolling restart.
//
// Discovery that fails, or answers with an empty set, never tears down
// streams that work: the pool keeps the last set it had. With no router
// known the pool keeps running and trying, drops what it is given with
// PoolCauseNoRouters and reports NoRouters in Stats; it never panics or
// exits.
//
// # Writing
//
// Write hands a batch (envelope wire bytes) to the next stream that is up,
// round robin. It blocks only while every stream's queue is full (the
// backpressure then lands in the buffer in front of the Forwarder, where a
// diode drops and counts), and while routers are known but no stream is up,
// for at most WithPoolWait. A batch whose write fails is tried once on
// another stream, then dropped with PoolCauseSendFailed. Each accepted batch
// gets exactly one PoolResult through the PoolDoneFunc given to Write, which
// is how the Forwarder's counters stay exact.
//
// # Choosing a mode
//
// PoolStreaming (default) writes batches on BatchSender client streams,
// like Loggregator's agent. It is the fastest mode and works with every
// Loggregator router. gRPC client streams carry no acknowledgement: what a
// stream carried in the moments before its connection broke may be lost
// without anyone knowing. The pool counts it as Unconfirmed, estimated as the
// batches within the last WithPoolUnconfirmedBound bytes (default 256 KiB) the
// stream carried: the router's HTTP/2 stream window (64 KiB in grpc-go
// unless BDP estimation enlarges it) plus grpc-go's 64 KiB client write
// quota. A stream closed on purpose (recycling, Shutdown) waits for the
// router's answer, which confirms everything it carried.
//
// PoolAcknowledged sends each batch with the unary Send call, with several
// in flight per stream (WithPoolInflight, default 4). A batch counts as sent
// only when the router confirmed it; one not confirmed (error, reset,
// timeout) is retried once on another stream, else dropped and counted. A
// broken connection therefore leaves no uncounted loss. A batch whose answer
// was lost after the router took it may arrive twice, or arrive and still be
// counted dropped: the books may overstate loss, never understate it. It costs a round trip
// per batch per in-flight slot, and Loggregator's own router does not
// implement Send (only sluice routers do).
//
// Pick streaming for throughput when the occasional unconfirmed window after
// a network fault is acceptable (it is the firehose's own trade-off); pick
// acknowledged when loss must always be accounted for, e.g. when testing
// where envelopes drop, or over unreliable networks. BenchmarkPool measures
// both (Forwarder and Pool, 5 streams, mutual TLS, loopback, one 2-core
// machine that also runs the router): streaming about 310,000 envelopes/s,
// acknowledged with 4 in flight per stream about 195,000, both without
// allocations per envelope. Raise WithPoolInflight when the round trip to
// the routers is longer than loopback's.
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
// Connections ping after WithPoolKeepalive's time without activity (default
// 15s) and are closed when a ping is not answered in time, so a router that
// vanished without closing its connections is noticed within seconds.
// Routers must allow pings that often. WithPoolTLS sets TLS or mutual TLS.
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
	drops     map[string]uint64

	rr                              atomic.Uint64
	writes, sent, failures, retries atomic.Uint64
	unconfirmed, connects, recycles atomic.Uint64
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
}

// NewPool starts a pool of streams to the routers src gives. The pool dials
// in the background: Write may be called at once.
func NewPool(src discovery.Source, opts ...PoolOption) (*Pool, error) {
	if src == nil {
		return nil, ErrPoolNoSource
	}
	cfg := poolDefaults()
	for _, o := range opts {
		if o != nil {
			o.apply(&cfg)
		}
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	creds := insecure.NewCredentials()
	if cfg.tls != nil {
		creds = credentials.NewTLS(cfg.tls)
	}
	p := &Pool{
		cfg: cfg,
		src: src,
		dialOpts: []grpc.DialOption{
			grpc.WithTransportCredentials(creds),
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
		drops:     make(map[string]uint64),
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
// are known but no stream is up (at most WithPoolWait). It returns
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
		p.finish(it, false, PoolCauseTooLarge)
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
				p.finish(it, false, PoolCauseNoRouters)
				return nil
			}
			if deadline == nil {
				// Wait for a stream at most waitUp after the last one went
				// down: later batches are dropped at once, not each after
				// its own wait.
				wait := p.cfg.waitUp - time.Since(downSince)
				if wait <= 0 {
					p.finish(it, false, PoolCauseUnreachable)
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
				p.finish(it, false, PoolCauseUnreachable)
				return nil
			case <-ctx.Done():
				return ctx.Err()
			case <-p.ctx.Done():
				p.finish(it, false, PoolCauseClosed)
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
			p.finish(it, false, PoolCauseClosed)
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
		p.drops[cause] += n
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
		p.finish(it, false, PoolCauseClosed)
	case it.retried:
		p.finish(it, false, PoolCauseSendFailed)
	default:
		it.retried = true
		p.retries.Add(1)
		if p.dispatch(p.ctx, it, from) != nil {
			p.finish(it, false, PoolCauseClosed)
		}
	}
}

// requeue hands a batch that waited on a stream that went down (never
// written) to another stream, without counting a retry.
func (p *Pool) requeue(it *poolItem, from *poolSlot) {
	if p.aborted.Load() {
		p.finish(it, false, PoolCauseClosed)
		return
	}
	if p.dispatch(p.ctx, it, from) != nil {
		p.finish(it, false, PoolCauseClosed)
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

func (p *Pool) markUp(s *poolSlot, r *poolRouter) {
	p.mu.Lock()
	defer p.mu.Unlock()
	s.up, s.since = true, time.Now()
	r.failures, r.retryAt = 0, time.Time{}
	p.ups = append(append([]*poolSlot(nil), p.ups...), s)
	close(p.upCh)
	p.upCh = make(chan struct{})
	p.connects.Add(1)
	p.cfg.logger.Debug("egress: pool stream up", "stream", s.id, "router", r.ep.Addr, "zone", r.ep.Zone)
}

func (p *Pool) markDown(s *poolSlot) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !s.up {
		return
	}
	s.up = false
	ups := make([]*poolSlot, 0, len(p.ups))
	for _, u := range p.ups {
		if u != s {
			ups = append(ups, u)
		}
	}
	p.ups = ups
	if len(ups) == 0 {
		p.downSince = time.Now()
	}
	close(p.upCh)
	p.upCh = make(chan struct{})
}

// assign picks a router for s: local zone first, fewest streams first,
// random among equals, avoiding left (the router s just left) when it can.
// With no candidate it returns how long to wait (0: until a change).
func (p *Pool) assign(s *poolSlot, left *poolRouter) (*poolRouter, time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	var local, remote []*poolRouter
	var earliest time.Time
	for _, r := range p.routers {
		if r.removed {
			continue
		}
		if now.Before(r.retryAt) {
			if earliest.IsZero() || r.retryAt.Before(earliest) {
				earliest = r.retryAt
			}
			continue
		}
		if p.isLocal(r) {
			local = append(local, r)
		} else {
			remote = append(remote, r)
		}
	}
	set := local
	if len(set) == 0 {
		set = remote
	}
	if len(set) == 0 {
		if earliest.IsZero() {
			return nil, 0
		}
		return nil, earliest.Sub(now)
	}
	least := set[0].streams
	for _, r := range set {
		least = min(least, r.streams)
	}
	ties := set[:0]
	for _, r := range set {
		if r.streams == least {
			ties = append(ties, r)
		}
	}
	if len(ties) > 1 && left != nil {
		for i, r := range ties {
			if r == left {
				ties = append(ties[:i], ties[i+1:]...)
				break
			}
		}
	}
	r := ties[rand.IntN(len(ties))]
	r.streams++
	s.router = r
	return r, 0
}

func (p *Pool) isLocal(r *poolRouter) bool { return p.cfg.zone == "" || r.ep.Zone == p.cfg.zone }

// release ends s's assignment to r; a failure puts r in backoff.
func (p *Pool) release(s *poolSlot, r *poolRouter, failed bool) {
	var closeCC *grpc.ClientConn
	p.mu.Lock()
	r.streams--
	s.router = nil
	if failed {
		r.failures++
		r.retryAt = time.Now().Add(sbackoff.Policy{Base: p.cfg.backoffBase, Max: p.cfg.backoffMax}.Delay(r.failures - 1))
	}
	if r.removed && r.streams == 0 && p.routers[r.key] == r {
		delete(p.routers, r.key)
		closeCC = r.cc
	}
	p.mu.Unlock()
	if closeCC != nil {
		_ = closeCC.Close()
	}
}

// runSlot keeps one stream going until the pool stops.
func (p *Pool) runSlot(s *poolSlot) {
	defer p.wg.Done()
	defer p.dropQueue(s)
	var left *poolRouter
	for p.stopCtx.Err() == nil {
		r, wait := p.assign(s, left)
		if r == nil {
			p.idle(s, wait)
			continue
		}
		left = r
		if err := p.connect(r); err != nil {
			p.cfg.logger.Debug("egress: pool connect failed", "router", r.ep.Addr, "err", err)
			p.release(s, r, p.stopCtx.Err() == nil)
			p.flushQueue(s)
			continue
		}
		var clean bool
		if p.cfg.mode == PoolAcknowledged {
			clean = p.serveAck(s, r)
		} else {
			clean = p.serveStream(s, r)
		}
		p.release(s, r, !clean && p.stopCtx.Err() == nil)
		p.flushQueue(s)
	}
}

// dropQueue finishes what is left in a stopped slot's queue.
func (p *Pool) dropQueue(s *poolSlot) {
	for {
		select {
		case it := <-s.queue:
			if p.aborted.Load() {
				p.finish(it, false, PoolCauseClosed)
			} else {
				p.requeue(it, s)
			}
		default:
			return
		}
	}
}

// idle waits for a router to become usable, requeuing stray batches.
func (p *Pool) idle(s *poolSlot, wait time.Duration) {
	if wait <= 0 || wait > p.cfg.probe {
		wait = p.cfg.probe
	}
	p.mu.Lock()
	changed := p.changedCh
	p.mu.Unlock()
	t := time.NewTimer(wait)
	defer t.Stop()
	for {
		select {
		case it := <-s.queue:
			p.requeue(it, s)
		case <-changed:
			return
		case <-t.C:
			return
		case <-p.stopCtx.Done():
			return
		}
	}
}

// connect waits until r's connection is ready, or fails.
func (p *Pool) connect(r *poolRouter) error {
	ctx, cancel := context.WithTimeout(p.stopCtx, p.cfg.connectTO)
	defer cancel()
	r.cc.Connect()
	for {
		st := r.cc.GetState()
		switch st {
		case connectivity.Ready:
			return nil
		case connectivity.TransientFailure, connectivity.Shutdown:
			return errors.New("egress: router unreachable (" + st.String() + ")")
		case connectivity.Idle:
			r.cc.Connect()
		}
		if !r.cc.WaitForStateChange(ctx, st) {
			return ctx.Err()
		}
	}
}

func (p *Pool) lifetime() *time.Timer {
	d := p.cfg.recycle
	return time.NewTimer(sbackoff.Jitter(d*7/8, 1.0/7))
}

// serveStream runs one BatchSender stream on r. It reports whether the
// stream ended cleanly (closed on purpose and confirmed by the router).
func (p *Pool) serveStream(s *poolSlot, r *poolRouter) bool {
	ctx, cancel := context.WithCancel(p.ctx)
	defer cancel()
	cs, err := wire.OpenBatchSender(ctx, r.cc)
	if err != nil {
		return false
	}
	ended := make(chan error, 1)
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		ended <- cs.RecvMsg(new(envelope.BatchSenderResponse))
	}()
	s.recent.reset()
	p.markUp(s, r)
	life := p.lifetime()
	defer life.Stop()
	var wb wire.Batch
	send := func(it *poolItem) bool {
		wb.Envelopes = it.batch
		err := cs.SendMsg(&wb)
		wb.Envelopes = nil
		if err != nil {
			p.markDown(s)
			p.failed(it, s)
			p.unconfirmed.Add(s.recent.estimate(p.cfg.inflightBytes))
			return false
		}
		s.recent.add(it.batch)
		p.finish(it, true, "")
		return true
	}
	for {
		select {
		case it := <-s.queue:
			if !send(it) {
				return false
			}
			continue
		case <-ended:
			// The router ended the stream before we closed it: whatever it
			// did not read is unknown.
			p.markDown(s)
			p.unconfirmed.Add(s.recent.estimate(p.cfg.inflightBytes))
			return false
		case <-p.ctx.Done():
			p.markDown(s)
			p.unconfirmed.Add(s.recent.estimate(p.cfg.inflightBytes))
			return false
		case <-life.C:
		case <-s.move:
		case <-p.stopCtx.Done():
		}
		// Close on purpose: send what is queued, then wait for the router's
		// answer, which confirms it read everything.
		p.markDown(s)
		p.recycles.Add(1)
		for drained := false; !drained; {
			select {
			case it := <-s.queue:
				if !send(it) {
					return false
				}
			default:
				drained = true
			}
		}
		if err := cs.CloseSend(); err == nil {
			t := time.NewTimer(p.cfg.sendTimeout)
			defer t.Stop()
			select {
			case err = <-ended:
			case <-t.C:
				err = context.DeadlineExceeded
			case <-p.ctx.Done():
				err = p.ctx.Err()
			}
		}
		if err != nil {
			p.unconfirmed.Add(s.recent.estimate(p.cfg.inflightBytes))
			return false
		}
		return true
	}
}

// serveAck runs acknowledged sends on r with cfg.inflight calls in flight.
func (p *Pool) serveAck(s *poolSlot, r *poolRouter) bool {
	stop := make(chan struct{})
	var once sync.Once
	var failed atomic.Bool
	end := func() { once.Do(func() { close(stop) }) }
	p.markUp(s, r)
	var wg sync.WaitGroup
	for range p.cfg.inflight {
		wg.Go(func() {
			var wb wire.Batch
			for {
				select {
				case <-stop:
					return
				case it := <-s.queue:
					ctx, cancel := context.WithTimeout(p.ctx, p.cfg.sendTimeout)
					wb.Envelopes = it.batch
					err := wire.Send(ctx, r.cc, &wb)
					wb.Envelopes = nil
					cancel()
					if err == nil {
						p.finish(it, true, "")
						continue
					}
					failed.Store(true)
					end()
					p.markDown(s)
					p.failed(it, s)
					return
				}
			}
		})
	}
	// A connection that leaves READY (reset, keepalive timeout, router gone)
	// ends the session even when no Send was in flight to notice it.
	sess, sessCancel := context.WithCancel(p.ctx)
	defer sessCancel()
	lost := make(chan struct{})
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		if r.cc.WaitForStateChange(sess, connectivity.Ready) {
			close(lost)
		}
	}()
	life := p.lifetime()
	defer life.Stop()
	select {
	case <-stop:
	case <-lost:
		failed.Store(true)
	case <-life.C:
	case <-s.move:
	case <-p.stopCtx.Done():
	}
	p.markDown(s)
	end()
	wg.Wait()
	if !failed.Load() {
		p.recycles.Add(1)
	}
	return !failed.Load()
}

// runManager follows discovery, redials local routers while streams are on
// remote ones, and rebalances.
func (p *Pool) runManager() {
	defer p.wg.Done()
	ch := p.src.Subscribe(p.stopCtx)
	tick := time.NewTicker(p.cfg.probe)
	defer tick.Stop()
	for {
		select {
		case st, ok := <-ch:
			if !ok {
				ch = nil
				continue
			}
			p.applyState(st)
			p.rebalance()
		case <-tick.C:
			p.rebalance()
		case <-p.stopCtx.Done():
			return
		}
	}
}

func poolRouterKey(ep discovery.Endpoint) string { return ep.Key() + "\x00" + ep.Addr }

// applyState takes a discovery state. An error state or an empty set that
// comes with an error keeps the current routers; a valid empty set marks
// every router removed, but no working stream is torn down for it.
func (p *Pool) applyState(st discovery.State) {
	if len(st.Endpoints) == 0 && st.Err != nil {
		return
	}
	var toClose []*grpc.ClientConn
	p.mu.Lock()
	defer func() {
		p.mu.Unlock()
		for _, cc := range toClose {
			_ = cc.Close()
		}
	}()
	p.seen = true
	keep := make(map[string]bool, len(st.Endpoints))
	added := false
	for _, ep := range st.Endpoints {
		k := poolRouterKey(ep)
		keep[k] = true
		if r, ok := p.routers[k]; ok {
			r.ep, r.removed = ep, false
			continue
		}
		cc, err := grpc.NewClient(ep.Addr, p.dialOpts...)
		if err != nil {
			p.cfg.logger.Warn("egress: pool cannot use router", "router", ep.Addr, "err", err)
			continue
		}
		p.routers[k] = &poolRouter{key: k, ep: ep, cc: cc}
		added = true
	}
	live := 0
	for k, r := range p.routers {
		if keep[k] {
			live++
			continue
		}
		if len(st.Endpoints) == 0 {
			// A valid empty set: keep using what works, but choose nothing new.
			r.removed = true
			continue
		}
		r.removed = true
		if r.streams == 0 {
			delete(p.routers, k)
			toClose = append(toClose, r.cc)
		}
	}
	p.noRouters = live == 0
	close(p.changedCh)
	p.changedCh = make(chan struct{})
	if added {
		p.moveForNewRouter()
	}
}

// moveForNewRouter (under mu) moves the oldest stream when a healthy local
// router has none, so a new router gets traffic at once.
func (p *Pool) moveForNewRouter() {
	idle := false
	for _, r := range p.routers {
		if !r.removed && r.streams == 0 && p.isLocal(r) && !time.Now().Before(r.retryAt) {
			idle = true
		}
	}
	if !idle || len(p.ups) == 0 || len(p.ups) < len(p.slots) {
		return
	}
	oldest := p.ups[0]
	for _, s := range p.ups {
		if s.since.Before(oldest.since) {
			oldest = s
		}
	}
	poolSignal(oldest.move)
}

func poolSignal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// rebalance (every probe interval and after discovery changes): moves
// streams back to the local zone when a local router answers, off routers
// that left discovery, and off a router holding two streams while a healthy
// one holds none.
func (p *Pool) rebalance() {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	var onRemote, onRemoved []*poolSlot
	byRouter := map[*poolRouter][]*poolSlot{}
	for _, s := range p.ups {
		if s.router == nil {
			continue
		}
		byRouter[s.router] = append(byRouter[s.router], s)
		if !p.isLocal(s.router) {
			onRemote = append(onRemote, s)
		}
		if s.router.removed {
			onRemoved = append(onRemoved, s)
		}
	}
	idleLocal := false
	for _, r := range p.routers {
		if r.removed || !p.isLocal(r) {
			continue
		}
		st := r.cc.GetState()
		if len(onRemote) > 0 && st != connectivity.Ready {
			r.cc.Connect() // redial local routers while on remote ones
		}
		if st == connectivity.Ready {
			r.retryAt, r.failures = time.Time{}, 0
		}
		if !now.Before(r.retryAt) {
			if r.streams == 0 && (st == connectivity.Ready || st == connectivity.Idle) {
				idleLocal = true
			}
		}
	}
	if len(onRemote) > 0 {
		ready := false
		for _, r := range p.routers {
			if !r.removed && p.isLocal(r) && r.cc.GetState() == connectivity.Ready {
				ready = true
			}
		}
		if ready {
			for _, s := range onRemote {
				poolSignal(s.move)
			}
			return
		}
	}
	candidate := false // a router a moved stream could go to
	for _, r := range p.routers {
		if !r.removed && !now.Before(r.retryAt) {
			candidate = true
		}
	}
	if len(onRemoved) > 0 && candidate {
		poolSignal(onRemoved[0].move)
		return
	}
	if idleLocal {
		var busiest []*poolSlot
		for _, ss := range byRouter {
			if len(ss) > len(busiest) {
				busiest = ss
			}
		}
		if len(busiest) >= 2 {
			sort.Slice(busiest, func(i, j int) bool { return busiest[i].since.Before(busiest[j].since) })
			poolSignal(busiest[0].move)
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
		Dropped:         make(map[string]uint64, len(p.drops)),
		Writes:          p.writes.Load(),
		Sent:            p.sent.Load(),
		Failures:        p.failures.Load(),
		Retries:         p.retries.Load(),
		Unconfirmed:     p.unconfirmed.Load(),
		Connects:        p.connects.Load(),
		Recycles:        p.recycles.Load(),
	}
	for _, r := range p.routers {
		if !r.removed {
			st.Routers++
		}
	}
	for _, s := range p.ups {
		if s.router != nil {
			st.StreamsByRouter[s.router.ep.Addr]++
			st.StreamsByZone[s.router.ep.Zone]++
		}
	}
	for k, v := range p.drops {
		st.Dropped[k] = v
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
// PoolCauseClosed (counted), streams are cancelled. Safe to call twice.
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

// poolRecent remembers the sizes of the last batches a stream carried, to
// estimate what a broken stream may have lost (PoolStats.Unconfirmed).
type poolRecent struct {
	bytes, envs [4096]int
	n, next     int
}

func (r *poolRecent) reset() { r.n, r.next = 0, 0 }

func (r *poolRecent) add(batch [][]byte) {
	b := 0
	for _, e := range batch {
		b += wire.FramedSize(len(e))
	}
	r.bytes[r.next], r.envs[r.next] = b, len(batch)
	r.next = (r.next + 1) % len(r.bytes)
	r.n = min(r.n+1, len(r.bytes))
}

// estimate returns the envelopes of the newest batches that together reach
// bound bytes (the batch crossing the bound included) and forgets them.
func (r *poolRecent) estimate(bound int) uint64 {
	var envs uint64
	sum := 0
	for i := 0; i < r.n && sum < bound; i++ {
		j := (r.next - 1 - i + 2*len(r.bytes)) % len(r.bytes)
		sum += r.bytes[j]
		envs += uint64(r.envs[j])
	}
	r.reset()
	return envs
}
