package serve

import (
	"slices"
	"time"
)

// A shard group outlives its last member for a grace period
// (WithGroupGrace): the last member's subscription leaves the router's
// subscriptions but stays in its group's routing state, parked, so its
// buffer keeps receiving the group's envelopes. A member that subscribes
// with the shard ID within the period adopts that buffer (and its counts);
// when the period ends the parked subscription leaves its group and what its
// buffer holds is counted with cause CauseNoSubscriber.

// routerParked is a group's last member, parked until timer fires.
type routerParked struct {
	sub   *routerSub
	timer *time.Timer
}

// park keeps s, the last member of a shard group, in its group for the
// grace period. It reports whether it did (else s leaves at once). Called
// under Router.mu after s left Router.subs.
func (r *Router) park(s *routerSub) bool {
	if r.cfg.grace <= 0 || r.closed || s.shardID == "" || len(s.group.members) != 1 {
		return false
	}
	// The reader was woken by s.cancel and reads nothing more (s.closed);
	// wait for it to be out, so that an adopter may read the buffer.
	s.readMu.Lock()
	s.readMu.Unlock() //nolint:staticcheck // an empty critical section is the point
	p := &routerParked{sub: s}
	p.timer = time.AfterFunc(r.cfg.grace, func() { r.expire(p) })
	r.parked[s.shardID] = p
	return true
}

// expire ends p's grace period: the group is freed.
func (r *Router) expire(p *routerParked) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.parked[p.sub.shardID] != p {
		return // adopted, or freed by Close
	}
	delete(r.parked, p.sub.shardID)
	r.routerLeave(p.sub, CauseNoSubscriber)
}

// adopt gives s, a new subscription, the buffer of its shard group's parked
// member, if any, and retires that member: s continues where it left off.
// It reports whether it did. Called under Router.mu before s joins its
// group.
func (r *Router) adopt(s *routerSub) bool {
	p := r.parked[s.shardID]
	if p == nil || s.shardID == "" {
		return false
	}
	p.timer.Stop()
	delete(r.parked, s.shardID)
	old := p.sub
	// The buffer made for s was never written; old's is handed on with
	// its read count, so its counts stay the group's (not folded).
	s.buf = old.buf
	s.read.Store(old.read.Load())
	g := old.group
	g.members = slices.DeleteFunc(g.members, func(m *routerSub) bool { return m == old })
	// g keeps routing to old until Subscribe rebuilds it with s: both
	// write the same buffer, under the publish lock, so nothing is lost.
	// Writes through old wake old's waker, which nobody waits on: Subscribe
	// lets a publish still routing through old finish before it returns s
	// (adoptBarrier), so s's reader, which looks before it sleeps, finds
	// them.
	return true
}

// adoptBarrier waits for a publish that loaded routing state from before
// s adopted a parked buffer: from then on every write to the buffer wakes
// s's reader. Called under Router.mu after the rebuild.
func (r *Router) adoptBarrier() {
	r.pubMu.Lock()
	r.pubMu.Unlock() //nolint:staticcheck // an empty critical section is the point
}

// parkedStats adds the parked members' buffers to shards. Called under
// Router.mu.
func (r *Router) parkedStats(shards map[string]ShardStats) {
	for id, p := range r.parked {
		b := p.sub.buf.Stats()
		sh := shards[id]
		sh.Egress += b.Written
		sh.Dropped.Add(CauseOverflow, b.Dropped)
		shards[id] = sh
	}
}

// unparkAll frees every parked group at once (Close): what their buffers
// hold is counted with cause CauseClosed.
func (r *Router) unparkAll() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for id, p := range r.parked {
		p.timer.Stop()
		delete(r.parked, id)
		r.routerLeave(p.sub, CauseClosed)
	}
}
