package forward

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/status"

	"github.com/sluicelog/sluice/envelope"
	sbackoff "github.com/sluicelog/sluice/internal/backoff"
	"github.com/sluicelog/sluice/internal/wire"
)

// Serving one stream slot of the pool: connecting, streaming or
// acknowledged sends, and the unconfirmed-envelope estimate.

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
		err := p.connect(r)
		p.checkTLS()
		if err != nil {
			p.cfg.logger.Debug("forward: pool connect failed", "router", r.ep.Addr, "err", err)
			p.release(s, r, p.stopCtx.Err() == nil)
			p.flushQueue(s)
			continue
		}
		var clean bool
		if p.cfg.mode == Acknowledged && !r.noAck.Load() {
			var back []*poolItem
			clean, back = p.serveAck(s, r)
			if back != nil {
				// The router does not implement Send: stream to it instead,
				// starting with the batches it refused (it has none of them).
				clean = p.serveStream(s, r, back)
			}
		} else {
			clean = p.serveStream(s, r, nil)
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
				p.finish(it, false, CauseClosed)
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
			return errors.New("forward: router unreachable (" + st.String() + ")")
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

// serveStream runs one BatchSender stream on r, sending first (in order)
// before anything queued. It reports whether the stream ended cleanly
// (closed on purpose and confirmed by the router).
func (p *Pool) serveStream(s *poolSlot, r *poolRouter, first []*poolItem) bool {
	ctx, cancel := context.WithCancel(p.ctx)
	defer cancel()
	cs, err := wire.OpenBatchSender(ctx, r.cc)
	if err != nil {
		for _, it := range first {
			p.requeue(it, s)
		}
		return false
	}
	ended := make(chan error, 1)
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		ended <- cs.RecvMsg(new(envelope.BatchSenderResponse))
	}()
	// A router that stops gracefully sends GOAWAY: the connection leaves
	// READY while the stream still works. Close the stream then, on
	// purpose, so that the router reads it to the end and confirms it:
	// moving off a leaving router loses nothing.
	leaving := make(chan struct{})
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		if r.cc.WaitForStateChange(ctx, connectivity.Ready) {
			close(leaving)
		}
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
	for i, it := range first {
		if !send(it) {
			for _, rest := range first[i+1:] {
				p.requeue(rest, s)
			}
			return false
		}
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
		case <-leaving:
			p.cfg.logger.Debug("forward: router leaving (GOAWAY); closing stream", "stream", s.id, "router", r.ep.Addr)
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
		// The answer confirms the stream: OK, or Loggregator's Unknown "EOF".
		if err = cs.CloseSend(); err == nil {
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
		if !wire.Confirmed(err) {
			p.unconfirmed.Add(s.recent.estimate(p.cfg.inflightBytes))
			return false
		}
		return true
	}
}

// serveAck runs acknowledged sends on r with cfg.inflight calls in flight.
// It reports whether the session ended cleanly. When r answers Send with
// Unimplemented (Loggregator's router does), it marks r as streaming-only
// and returns the batches r refused (non-nil): r received none of them.
func (p *Pool) serveAck(s *poolSlot, r *poolRouter) (clean bool, back []*poolItem) {
	stop := make(chan struct{})
	var once sync.Once
	var failed, unimplemented atomic.Bool
	var backMu sync.Mutex
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
					if status.Code(err) == codes.Unimplemented {
						p.ackUnsupported(r, err)
						unimplemented.Store(true)
						backMu.Lock()
						back = append(back, it)
						backMu.Unlock()
						end()
						return
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
	if unimplemented.Load() && !failed.Load() {
		if back == nil {
			back = []*poolItem{}
		}
		return true, back
	}
	for _, it := range back {
		// A call failed besides: the refused batches go elsewhere, as the
		// queue does.
		p.requeue(it, s)
	}
	if !failed.Load() {
		p.recycles.Add(1)
	}
	return !failed.Load(), nil
}

// ackUnsupported marks r as a router without the unary Send (Loggregator's
// answers Unimplemented): the pool streams to it from now on, and says so
// once per router.
func (p *Pool) ackUnsupported(r *poolRouter, err error) {
	if r.noAck.CompareAndSwap(false, true) {
		p.ackFallbacks.Add(1)
		p.cfg.logger.Warn("forward: router does not implement Send; streaming to it instead (its deliveries are not acknowledged)",
			"router", r.ep.Addr, "err", err)
	}
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
