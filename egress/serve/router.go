package serve

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/sluicelog/sluice/diode"
	"github.com/sluicelog/sluice/envelope"
	"github.com/sluicelog/sluice/stats"
)

// ErrRouterClosed is returned by a Router's methods after Close or Shutdown.
var ErrRouterClosed = errors.New("serve: router closed")

// Router delivers envelopes to subscriptions, keyed by shard ID. See the
// package documentation for the delivery rules.
//
// Publishers never wait for subscribers: each subscription has its own
// buffer (a diode by default) that drops, and counts, what its subscriber
// falls behind on. Publish, PublishEnvelope and Run may be called from any
// number of goroutines; they are serialized by a lock that only publishers
// take (an unsubscribe touches it for an instant, as a barrier), so the
// subscription buffers see one writer at a time. Subscribing and
// unsubscribing never block a publisher for longer than that instant: they
// build new routing state aside and publish it with an atomic store.
type Router struct {
	cfg routerConfig

	// Read by publishers without a lock.
	table atomic.Pointer[routerTable]
	wild  atomic.Pointer[routerBucket] // selectors with an empty source ID

	pubMu     sync.Mutex // held by one Publish at a time
	pubClosed bool       // under pubMu
	ingress   uint64     // under pubMu
	malformed uint64     // under pubMu
	unrouted  uint64     // under pubMu

	mu       sync.Mutex // subscribe, unsubscribe, stats
	closed   bool
	groups   map[string]*routerGroup // by non-empty shard ID
	subs     map[*routerSub]struct{}
	folded   map[string]ShardStats    // counts of closed subscriptions, by shard ID
	parked   map[string]*routerParked // groups without members, by shard ID (router_grace.go)
	rejected uint64
	nextID   uint64
}

// RouterStats is a snapshot of a Router's counters. The names in the field
// docs are the Loggregator telemetry names they map to.
type RouterStats struct {
	// Ingress (`ingress`) counts envelopes accepted by Publish. The books
	// close exactly: Ingress == Routed + Unrouted.
	Ingress uint64
	// Routed (`routed`) counts envelopes handed to at least one
	// subscription buffer (Egress counts the copies).
	Routed uint64
	// Unrouted (`unrouted`) counts envelopes that matched no subscription
	// (and no shard group waiting for its members, WithGroupGrace): no one
	// asked for them, so they went nowhere. Not a drop.
	Unrouted uint64
	// Malformed counts envelopes Publish refused because their wire bytes
	// were not a valid Envelope (not part of Ingress).
	Malformed uint64
	// Egress (`egress`) counts envelope copies handed to subscription
	// buffers: one per subscription that an envelope was routed to.
	Egress uint64
	// Dropped (`dropped{direction=egress}`) counts envelope copies handed to
	// subscriptions that their subscribers will never read, by cause:
	// CauseOverflow (the subscription's buffer overflowed) and CauseClosed
	// (what a subscription held when it closed). Shards has the split by
	// shard ID.
	Dropped stats.Drops
	// Subscriptions (`subscriptions`, a gauge) is the number of open
	// subscriptions.
	Subscriptions int
	// RejectedStreams (`rejected_streams`) counts Subscribe calls refused:
	// invalid requests, a closed router, a failing buffer factory.
	RejectedStreams uint64
	// Shards has the egress counts by shard ID ("" for subscriptions without
	// one), including shard IDs whose subscriptions have all closed.
	Shards map[string]ShardStats
}

// ShardStats are the egress counts of one shard ID.
type ShardStats struct {
	// Subscriptions is the number of open subscriptions with this shard ID.
	Subscriptions int
	// Egress (`egress`) counts envelope copies handed to these subscriptions.
	Egress uint64
	// Dropped (`dropped{direction=egress,shard_id=...}`) counts copies their
	// subscribers never read, by cause (CauseOverflow, CauseClosed).
	Dropped stats.Drops
}

// NewRouter returns a Router.
func NewRouter(opts ...RouterOption) (*Router, error) {
	cfg := routerDefaults()
	for _, o := range opts {
		if o != nil {
			o.applyRouter(&cfg)
		}
	}
	if cfg.newBuffer == nil {
		return nil, fmt.Errorf("%w: nil subscription buffer factory", ErrInvalidConfig)
	}
	// Check the buffer factory once, so a bad size fails here and not on the
	// first Subscribe.
	if _, err := cfg.newBuffer(); err != nil {
		return nil, fmt.Errorf("%w: subscription buffer: %w", ErrInvalidConfig, err)
	}
	r := &Router{
		cfg:    cfg,
		groups: make(map[string]*routerGroup),
		subs:   make(map[*routerSub]struct{}),
		folded: make(map[string]ShardStats),
		parked: make(map[string]*routerParked),
	}
	r.table.Store(newRouterTable(64, maphash.MakeSeed()))
	return r, nil
}

// Publish routes one envelope, given as its wire bytes, to the matching
// subscriptions. It reads only the routing fields (no decoding) and never
// waits for a subscriber. Malformed bytes are refused with an error wrapping
// envelope.ErrMalformed (and counted); after Close it returns
// ErrRouterClosed. The router keeps env: the caller must not modify it.
func (r *Router) Publish(env []byte) error {
	r.pubMu.Lock()
	defer r.pubMu.Unlock()
	if r.pubClosed {
		return ErrRouterClosed
	}
	rt, err := envelope.ReadRoute(env)
	if err != nil {
		r.malformed++
		return fmt.Errorf("serve: publish: %w", err)
	}
	r.ingress++
	var p routerDelivery
	p.env = env
	var b *routerBucket
	if rt.SourceID != "" {
		b = r.table.Load().lookup(rt.SourceID)
	}
	routed := false
	if b != nil {
		for i := range b.entries {
			routed = p.deliver(&b.entries[i], &rt) || routed
		}
	}
	if w := r.wild.Load(); w != nil {
		for i := range w.entries {
			e := &w.entries[i]
			// A group with selectors for this source ID and selectors for
			// every source ID was handled above with all of them: once.
			if e.mixed && b.has(e.group) {
				continue
			}
			routed = p.deliver(e, &rt) || routed
		}
	}
	if !routed {
		r.unrouted++
	}
	return nil
}

// PublishEnvelope marshals e and publishes it.
func (r *Router) PublishEnvelope(e *envelope.Envelope) error {
	b, err := proto.Marshal(e)
	if err != nil {
		return fmt.Errorf("serve: publish: %w", err)
	}
	return r.Publish(b)
}

// Run publishes what buf yields until ctx ends; then it publishes what buf
// still holds without waiting and returns ctx's error. It is what a router
// process runs after its ingress buffer. Malformed envelopes are counted
// and skipped. It returns ErrRouterClosed once the router is closed.
func (r *Router) Run(ctx context.Context, buf diode.Buffer[[]byte]) error {
	for {
		v, err := buf.Next(ctx)
		if err != nil {
			for {
				v, ok := buf.TryNext()
				if !ok {
					break
				}
				if err := r.Publish(v); errors.Is(err, ErrRouterClosed) {
					return err
				}
			}
			return err
		}
		if err := r.Publish(v); errors.Is(err, ErrRouterClosed) {
			return err
		}
	}
}

// routerDelivery is one envelope being delivered; it lives on Publish's stack.
type routerDelivery struct {
	env     []byte
	hash    uint64
	hashed  bool // hash is computed
	hasHash bool // the envelope has a metric name
}

// deliver gives the envelope to at most one member of e's group and
// reports whether it did.
func (p *routerDelivery) deliver(e *routerEntry, rt *envelope.Route) bool {
	n := len(e.members)
	if n == 1 || e.uniform {
		// Every member has the same selectors: match once.
		if !routerMatchAny(e.members[0].sels, rt) {
			return false
		}
		k := 0
		if n > 1 {
			k = p.pick(e, rt, n)
		}
		e.members[k].sub.buf.Set(p.env)
		return true
	}
	// Members select differently: choose among those that match.
	c := 0
	for i := range e.members {
		if routerMatchAny(e.members[i].sels, rt) {
			c++
		}
	}
	if c == 0 {
		return false
	}
	k := 0
	if c > 1 {
		k = p.pick(e, rt, c)
	}
	for i := range e.members {
		if routerMatchAny(e.members[i].sels, rt) {
			if k == 0 {
				e.members[i].sub.buf.Set(p.env)
				return true
			}
			k--
		}
	}
	return false
}

// pick chooses one of n candidates: by the metric name's hash in a
// deterministic group when the envelope has a name, else round robin.
func (p *routerDelivery) pick(e *routerEntry, rt *envelope.Route, n int) int {
	if e.deterministic {
		if !p.hashed {
			p.hash, p.hasHash = rt.NameHash()
			p.hashed = true
		}
		if p.hasHash {
			return int(p.hash % uint64(n))
		}
	}
	return int((e.group.rr.Add(1) - 1) % uint64(n))
}

func routerMatchAny(sels []*envelope.Selector, rt *envelope.Route) bool {
	for _, s := range sels {
		if s.MatchesRoute(rt) {
			return true
		}
	}
	return false
}

// Subscribe opens a subscription for req. The request's selectors are
// validated as Loggregator validates them (errors wrap envelope's
// ErrNoSelectors or ErrSelectorWithoutMessage). The subscription closes,
// leaving its group at once, when ctx ends or on Close.
func (r *Router) Subscribe(ctx context.Context, req *envelope.EgressBatchRequest) (Subscription, error) {
	sels, err := envelope.RequestSelectors(req)
	if err != nil {
		r.reject()
		return nil, fmt.Errorf("serve: subscribe: %w", err)
	}
	if err := ctx.Err(); err != nil {
		r.reject()
		return nil, err
	}
	buf, err := r.cfg.newBuffer()
	if err != nil {
		r.reject()
		return nil, fmt.Errorf("%w: subscription buffer: %w", ErrInvalidConfig, err)
	}
	s := &routerSub{
		r:       r,
		shardID: req.GetShardId(),
		detName: req.GetDeterministicName(),
		buf:     buf,
	}
	// Own copies: the caller may reuse its request.
	s.sels = make([]*envelope.Selector, 0, len(sels))
	for _, sel := range sels {
		s.sels = append(s.sels, proto.Clone(sel).(*envelope.Selector))
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.stopMu.Lock()
	s.stop = context.AfterFunc(ctx, func() { _ = s.Close() })
	s.stopMu.Unlock()

	r.mu.Lock()
	if r.closed || s.closed.Load() {
		closed := r.closed
		r.rejected++
		r.mu.Unlock()
		_ = s.Close()
		if closed {
			return nil, ErrRouterClosed
		}
		return nil, context.Cause(ctx)
	}
	r.nextID++
	s.id = r.nextID
	r.adopt(s)
	var g *routerGroup
	if s.shardID == "" {
		g = &routerGroup{}
	} else if g = r.groups[s.shardID]; g == nil {
		g = &routerGroup{shardID: s.shardID}
		r.groups[s.shardID] = g
	}
	s.group = g
	g.members = append(g.members, s)
	r.subs[s] = struct{}{}
	r.routerRebuild(g)
	r.mu.Unlock()
	return s, nil
}

func (r *Router) reject() {
	r.mu.Lock()
	r.rejected++
	r.mu.Unlock()
}

// routerUnsubscribe removes s from its group and makes its counts final.
func (r *Router) routerUnsubscribe(s *routerSub) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.subs[s]; !ok {
		return
	}
	delete(r.subs, s)
	if r.park(s) {
		return
	}
	r.routerLeave(s, CauseClosed)
}

// routerLeave removes s from its group and folds its counts; what its
// buffer still holds is counted with cause held. Called under Router.mu.
func (r *Router) routerLeave(s *routerSub, held string) {
	g := s.group
	g.members = slices.DeleteFunc(g.members, func(m *routerSub) bool { return m == s })
	r.routerRebuild(g)
	if g.shardID != "" && len(g.members) == 0 {
		delete(r.groups, g.shardID)
	}
	// Barrier: a Publish that loaded routing state still holding s finishes
	// before this lock is ours; every later one loads state without s. From
	// here on nothing writes to s.buf.
	r.pubMu.Lock()
	r.pubMu.Unlock() //nolint:staticcheck // an empty critical section is the point
	// The reader was woken by s.cancel and reads nothing more (s.closed).
	// The read count is the subscription's own: a buffer may publish its
	// Read lazily (exact only once its reader has drained it).
	s.readMu.Lock()
	st := s.buf.Stats()
	read := s.read.Load()
	s.readMu.Unlock()
	unread := st.Written - min(read, st.Written)
	overflowed := min(st.Dropped, unread)
	f := r.folded[s.shardID]
	f.Egress += st.Written
	f.Dropped.Add(CauseOverflow, overflowed)
	f.Dropped.Add(held, unread-overflowed)
	r.folded[s.shardID] = f
}

// Stats returns a snapshot of the counters.
func (r *Router) Stats() RouterStats {
	r.mu.Lock()
	defer r.mu.Unlock()
	st := RouterStats{
		Subscriptions:   len(r.subs),
		RejectedStreams: r.rejected,
		Shards:          make(map[string]ShardStats, len(r.folded)+len(r.groups)),
	}
	for id, f := range r.folded {
		f.Subscriptions = 0
		f.Dropped = f.Dropped.Clone()
		st.Shards[id] = f
	}
	for s := range r.subs {
		b := s.buf.Stats()
		sh := st.Shards[s.shardID]
		sh.Subscriptions++
		sh.Egress += b.Written
		sh.Dropped.Add(CauseOverflow, b.Dropped)
		st.Shards[s.shardID] = sh
	}
	r.parkedStats(st.Shards)
	for _, sh := range st.Shards {
		st.Egress += sh.Egress
		for cause, n := range sh.Dropped {
			st.Dropped.Add(cause, n)
		}
	}
	r.pubMu.Lock()
	st.Ingress, st.Malformed, st.Unrouted = r.ingress, r.malformed, r.unrouted
	st.Routed = st.Ingress - st.Unrouted
	r.pubMu.Unlock()
	return st
}

// Close closes every subscription (what they hold is discarded and counted)
// and refuses further publishing and subscribing with ErrRouterClosed. It is
// safe to call more than once.
func (r *Router) Close() error {
	r.pubMu.Lock()
	r.pubClosed = true
	r.pubMu.Unlock()
	r.mu.Lock()
	r.closed = true
	subs := make([]*routerSub, 0, len(r.subs))
	for s := range r.subs {
		subs = append(subs, s)
	}
	r.mu.Unlock()
	for _, s := range subs {
		_ = s.Close()
	}
	r.unparkAll()
	return nil
}

// Shutdown stops publishing (Publish returns ErrRouterClosed), waits until
// the subscribers have read what their subscriptions hold, then closes the
// router. When ctx ends first it closes at once and returns ctx's error.
func (r *Router) Shutdown(ctx context.Context) error {
	r.pubMu.Lock()
	r.pubClosed = true
	r.pubMu.Unlock()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !r.routerDrained() {
		select {
		case <-ctx.Done():
			_ = r.Close()
			return ctx.Err()
		case <-tick.C:
		}
	}
	return r.Close()
}

func (r *Router) routerDrained() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for s := range r.subs {
		if b := s.buf.Stats(); b.Written > s.read.Load()+b.Dropped {
			return false
		}
	}
	return true
}

// routerSub is a Router's Subscription.
type routerSub struct {
	r       *Router
	id      uint64
	shardID string
	detName string
	sels    []*envelope.Selector
	buf     diode.Buffer[[]byte]
	group   *routerGroup // set under Router.mu

	ctx    context.Context // canceled by Close: wakes a waiting Next
	cancel context.CancelFunc
	stopMu sync.Mutex
	stop   func() bool // releases the AfterFunc on the subscribe context
	closed atomic.Bool
	once   sync.Once
	readMu sync.Mutex // one reader at a time; Close waits for it
	read   atomic.Uint64
}

// Next returns the next envelope, waiting while there is none.
func (s *routerSub) Next(ctx context.Context) ([]byte, error) {
	s.readMu.Lock()
	defer s.readMu.Unlock()
	if s.closed.Load() {
		return nil, ErrSubscriptionClosed
	}
	if v, ok := s.buf.TryNext(); ok {
		s.read.Add(1)
		return v, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	wctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(s.ctx, cancel)
	v, err := s.buf.Next(wctx)
	stop()
	cancel()
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, ErrSubscriptionClosed
	}
	s.read.Add(1)
	return v, nil
}

// TryNext returns the next envelope, or false when there is none.
func (s *routerSub) TryNext() ([]byte, bool) {
	s.readMu.Lock()
	defer s.readMu.Unlock()
	if s.closed.Load() {
		return nil, false
	}
	v, ok := s.buf.TryNext()
	if ok {
		s.read.Add(1)
	}
	return v, ok
}

// Close leaves the group at once; what the subscription held is discarded
// and counted as dropped under its shard ID.
func (s *routerSub) Close() error {
	s.once.Do(func() {
		s.closed.Store(true)
		s.cancel()
		s.r.routerUnsubscribe(s)
		s.stopMu.Lock()
		if s.stop != nil {
			s.stop()
		}
		s.stopMu.Unlock()
	})
	return nil
}

func (s *routerSub) String() string {
	return fmt.Sprintf("subscription %d (shard %q)", s.id, s.shardID)
}

// routerGroup is the subscriptions sharing a shard ID (or one subscription
// with none).
type routerGroup struct {
	shardID string
	rr      atomic.Uint64       // round-robin position
	members []*routerSub        // join order; under Router.mu
	keys    map[string]struct{} // source IDs where the group has entries ("" = wild); under Router.mu
}

// routerBucket is the immutable routing state for one source ID (or for
// selectors with an empty source ID): one entry per group.
type routerBucket struct {
	entries []routerEntry
}

func (b *routerBucket) has(g *routerGroup) bool {
	if b == nil {
		return false
	}
	for i := range b.entries {
		if b.entries[i].group == g {
			return true
		}
	}
	return false
}

// routerEntry is one group's members with the selectors that apply to one
// bucket.
type routerEntry struct {
	group         *routerGroup
	members       []routerCand
	uniform       bool // every member has the same selectors here
	deterministic bool // pick by metric name hash
	mixed         bool // wild bucket only: the group is also in source buckets
}

type routerCand struct {
	sub  *routerSub
	sels []*envelope.Selector
}

// routerRebuild recomputes g's entries in every bucket it is or was in.
// Called under Router.mu.
func (r *Router) routerRebuild(g *routerGroup) {
	keys := make(map[string]struct{})
	for _, m := range g.members {
		for _, s := range m.sels {
			keys[s.GetSourceId()] = struct{}{}
		}
	}
	_, wild := keys[""]
	mixed := len(keys) > 1 || (len(keys) == 1 && !wild)

	members := g.members
	det := len(members) > 0
	for _, m := range members {
		if m.detName == "" {
			det = false
		}
	}
	if det {
		// A member keeps its place while the set of names stays the same,
		// so a metric keeps landing on the member with the same name, even
		// across reconnects.
		members = slices.Clone(members)
		slices.SortStableFunc(members, func(a, b *routerSub) int {
			if c := strings.Compare(a.detName, b.detName); c != 0 {
				return c
			}
			return int(a.id - b.id)
		})
	}

	storeWild := func() {
		var e *routerEntry
		if wild {
			e = routerEntryFor(g, members, "", det, mixed)
		}
		r.wild.Store(routerBucketWith(r.wild.Load(), g, e))
	}
	storeSources := func() {
		t := r.table.Load()
		nt := t
		for k := range g.keys {
			if _, ok := keys[k]; !ok && k != "" {
				nt = nt.set(k, routerBucketWith(nt.lookup(k), g, nil))
			}
		}
		for k := range keys {
			if k != "" {
				nt = nt.set(k, routerBucketWith(nt.lookup(k), g, routerEntryFor(g, members, k, det, false)))
			}
		}
		if nt != t {
			r.table.Store(nt)
		}
	}
	// The wild entry must say "mixed" whenever a source bucket holds the
	// group, or a publish between the two stores could deliver twice.
	if mixed {
		storeWild()
		storeSources()
	} else {
		storeSources()
		storeWild()
	}
	g.keys = keys
}

// routerEntryFor builds g's entry for bucket key: the members with a
// selector for key, or (for a source ID) a selector for every source ID.
func routerEntryFor(g *routerGroup, members []*routerSub, key string, det, mixed bool) *routerEntry {
	e := &routerEntry{group: g, deterministic: det, mixed: mixed}
	for _, m := range members {
		var sels []*envelope.Selector
		for _, s := range m.sels {
			if id := s.GetSourceId(); id == key || id == "" {
				sels = append(sels, s)
			}
		}
		if len(sels) > 0 {
			e.members = append(e.members, routerCand{sub: m, sels: sels})
		}
	}
	if len(e.members) == 0 {
		return nil
	}
	e.uniform = true
	for _, c := range e.members[1:] {
		if !slices.EqualFunc(c.sels, e.members[0].sels, func(a, b *envelope.Selector) bool { return proto.Equal(a, b) }) {
			e.uniform = false
			break
		}
	}
	return e
}

// routerBucketWith returns a copy of b with g's entry replaced by e (removed
// when e is nil); nil when nothing is left.
func routerBucketWith(b *routerBucket, g *routerGroup, e *routerEntry) *routerBucket {
	nb := &routerBucket{}
	if b != nil {
		nb.entries = make([]routerEntry, 0, len(b.entries)+1)
		for _, x := range b.entries {
			if x.group != g {
				nb.entries = append(nb.entries, x)
			}
		}
	}
	if e != nil {
		nb.entries = append(nb.entries, *e)
	}
	if len(nb.entries) == 0 {
		return nil
	}
	return nb
}
