package discovery

import (
	"context"
	"sync"
)

// publisher holds a source's latest State and hands it to subscribers with
// coalescing: each subscriber has a one-slot channel that always holds the
// newest undelivered State, so a slow receiver skips intermediate states
// instead of building a backlog, and the publisher never blocks.
type publisher struct {
	mu     sync.Mutex
	state  State
	subs   map[*subscriber]struct{}
	closed bool
}

type subscriber struct {
	ch   chan State
	done bool
	stop func() bool // unregisters the ctx.AfterFunc; set under mu
}

func newPublisher(initial State) *publisher {
	return &publisher{state: initial, subs: make(map[*subscriber]struct{})}
}

// get returns the latest State.
func (p *publisher) get() State {
	p.mu.Lock()
	defer p.mu.Unlock()
	return copyState(p.state)
}

// update applies f to the latest State under the lock and notifies
// subscribers when the endpoint set or error status changed.
func (p *publisher) update(f func(old State) State) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	old := p.state
	p.state = f(old)
	if sameState(old, p.state) {
		return
	}
	for s := range p.subs {
		offer(s.ch, copyState(p.state))
	}
}

// offer replaces whatever is waiting in ch with st. The caller holds p.mu and
// is the only sender, so after draining the send cannot block.
func offer(ch chan State, st State) {
	select {
	case <-ch:
	default:
	}
	ch <- st
}

// subscribe registers a subscriber that gets the current State at once. Its
// channel is closed when ctx ends or the publisher is closed.
func (p *publisher) subscribe(ctx context.Context) <-chan State {
	s := &subscriber{ch: make(chan State, 1)}
	p.mu.Lock()
	s.ch <- copyState(p.state)
	if p.closed {
		close(s.ch)
		p.mu.Unlock()
		return s.ch
	}
	p.subs[s] = struct{}{}
	p.mu.Unlock()
	stop := context.AfterFunc(ctx, func() { p.unsubscribe(s) })
	p.mu.Lock()
	if s.done {
		stop()
	} else {
		s.stop = stop
	}
	p.mu.Unlock()
	return s.ch
}

func (p *publisher) unsubscribe(s *subscriber) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if s.done {
		return
	}
	s.done = true
	delete(p.subs, s)
	close(s.ch)
}

// close sets the final State, delivers it and closes every subscriber's
// channel. Later updates are ignored.
func (p *publisher) close(final func(old State) State) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	p.closed = true
	if final != nil {
		p.state = final(p.state)
	}
	for s := range p.subs {
		offer(s.ch, copyState(p.state))
		s.done = true
		close(s.ch)
		if s.stop != nil {
			s.stop()
		}
	}
	clear(p.subs)
}
