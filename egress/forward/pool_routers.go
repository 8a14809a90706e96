package forward

import (
	"math/rand/v2"
	"sort"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/connectivity"

	"github.com/sluicelog/sluice/discovery"
	sbackoff "github.com/sluicelog/sluice/internal/backoff"
)

// Choosing routers for the pool's streams: local zone first, distinct
// routers per stream, following discovery, rebalancing.

func (p *Pool) markUp(s *poolSlot, r *poolRouter) {
	p.mu.Lock()
	defer p.mu.Unlock()
	s.up, s.since = true, time.Now()
	r.failures, r.retryAt = 0, time.Time{}
	p.ups = append(append([]*poolSlot(nil), p.ups...), s)
	close(p.upCh)
	p.upCh = make(chan struct{})
	p.connects.Add(1)
	p.cfg.logger.Debug("forward: pool stream up", "stream", s.id, "router", r.ep.Addr, "zone", r.ep.Zone)
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
		cc, err := grpc.NewClient(ep.Addr, append(p.dialOpts, p.routerCreds(ep.Addr))...)
		if err != nil {
			p.cfg.logger.Warn("forward: pool cannot use router", "router", ep.Addr, "err", err)
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
