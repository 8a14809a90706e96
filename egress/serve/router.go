package serve

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"maps"
	"math"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/sluicelog/sluice/diode"
	"github.com/sluicelog/sluice/envelope"
	"github.com/sluicelog/sluice/internal/batch"
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

	pubMu     sync.Mutex   // held by one Publish at a time
	pubClosed bool         // under pubMu
	ingress   uint64       // under pubMu
	malformed uint64       // under pubMu
	discarded uint64       // under pubMu: taken by Run after the router closed
	tooLarge  uint64       // under pubMu
	unrouted  uint64       // under pubMu
	burst     []*routerSub // under pubMu: subscriptions written in this burst of Run's, to wake at its end
	runTaken  [][]byte     // under pubMu: a burst Run took from its buffer at once (batch.BulkReader)

	mu       sync.Mutex // subscribe, unsubscribe, stats
	closed   bool
	groups   map[string]*routerGroup // by non-empty shard ID
	subs     map[*routerSub]struct{}
	folded   map[string]ShardStats    // counts of closed subscriptions, by shard ID
	parked   map[string]*routerParked // groups without members, by shard ID (router_grace.go)
	rejected uint64
	refused  map[string]uint64 // requests beyond a limit, by cause (also in rejected)
	nextID   uint64

	rebuildSteps uint64 // candidate entries built under mu: tests check it is linear
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
	// Discarded (`dropped{direction=ingress,cause=closed}`) counts
	// envelopes Run took from its buffer but could not publish because the
	// router had closed (not part of Ingress). What the buffer still holds
	// after Run returns is the caller's to count.
	Discarded uint64
	// TooLarge counts envelopes Publish refused because they were larger
	// than Limits.MaxEnvelopeBytes (not part of Ingress).
	TooLarge uint64
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
	// Refused counts the subscribe requests (also in RejectedStreams)
	// refused by a limit, by cause: RefusedSelectors, RefusedSourceIDs,
	// RefusedShardID, RefusedShards. Nil when none was.
	Refused map[string]uint64
	// Shards has the egress counts by shard ID ("" for subscriptions without
	// one), including shard IDs whose subscriptions have all closed.
	Shards map[string]ShardStats
	// PoolBytes (`subscription_pool_bytes`, a gauge) is what the
	// subscription buffers hold out of their shared pool
	// (WithSubscriptionPool); 0 without one.
	PoolBytes int64
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
	lim, err := cfg.limits.withDefaults()
	if err != nil {
		return nil, err
	}
	cfg.limits = lim
	cfg.fill = fillBound{envelopes: 2} // a buffer of unknown size: WaitFill waits for one envelope, as Next does
	if cfg.newBuffer == nil {
		if err := cfg.sub.newPool(); err != nil {
			return nil, err
		}
		cfg.newBuffer = cfg.sub.factory()
		cfg.fill = cfg.sub.fillBound()
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
	return r.publishLocked(env, envelope.ReadRoute, false)
}

// publishLocked is Publish under pubMu, reading the route with read. In a
// burst (Run), the subscriptions written to are listed in r.burst, to be
// woken once at the burst's end (wakeBurst); otherwise each is woken at
// once.
func (r *Router) publishLocked(env []byte, read func([]byte) (envelope.Route, error), burst bool) error {
	if r.pubClosed {
		return ErrRouterClosed
	}
	if len(env) > r.cfg.limits.MaxEnvelopeBytes {
		r.tooLarge++
		return fmt.Errorf("serve: publish: %w: %d bytes, at most %d", ErrEnvelopeTooLarge, len(env), r.cfg.limits.MaxEnvelopeBytes)
	}
	rt, err := read(env)
	if err != nil {
		r.malformed++
		return fmt.Errorf("serve: publish: %w", err)
	}
	r.ingress++
	var p routerDelivery
	p.env = env
	if burst {
		p.burst = &r.burst
	}
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
// process runs after its ingress buffer. It returns ErrRouterClosed once
// the router is closed.
//
// Run expects buf to hold envelopes that were validated when they were
// received (an ingress.Server validates every envelope it accepts, in
// full), so it reads their routes with envelope.ReadRouteTrusted instead of
// validating them a second time: envelopes whose routing fields cannot be
// read are counted as malformed and skipped, but other flaws (invalid UTF-8
// in a tag, a malformed log payload field) are not looked for. Validate
// what other code writes into buf, or hand it to Publish.
//
// Run takes what buf holds in bursts of up to 128 envelopes and
// publishes each burst under one acquisition of the publish lock; a buf
// with a TryNextN(dst [][]byte, n int) [][]byte method (diode.Fair,
// limit.Buffer) hands the burst over under one synchronization of its own. It wakes
// a waiting subscription reader once per burst, after the burst, not at
// its first envelope: the reader then takes the whole burst in one wake-up
// instead of racing the router envelope by envelope. After a full burst it
// yields the processor, so that the readers it woke run before the next
// burst instead of after Run's whole time slice: a subscription buffer of
// 1,000 envelopes holds only a few milliseconds at hundreds of thousands a
// second.
func (r *Router) Run(ctx context.Context, buf diode.Buffer[[]byte]) error {
	for {
		v, err := buf.Next(ctx)
		if err != nil {
			for {
				n, perr := r.publishFrom(buf, nil, false)
				if perr != nil {
					return perr
				}
				if n == 0 {
					return err
				}
			}
		}
		n, err := r.publishFrom(buf, v, true)
		if err != nil {
			return err
		}
		if n == runBurst {
			runtime.Gosched()
		}
	}
}

// runBurst is how many envelopes Run publishes under one lock.
const runBurst = 128

// publishFrom publishes first (when has is set), then what buf holds, up to
// runBurst envelopes in all, under one acquisition of the publish lock, and
// returns how many it took. Malformed envelopes are counted and skipped.
// Once the router is closed it returns ErrRouterClosed having taken one
// envelope it could not publish, as Publish would refuse it, and counted
// it discarded; buf keeps the rest.
func (r *Router) publishFrom(buf diode.Buffer[[]byte], first []byte, has bool) (int, error) {
	r.pubMu.Lock()
	defer r.pubMu.Unlock()
	defer r.wakeBurst()
	n := 0
	if has {
		n++
		if err := r.publishLocked(first, envelope.ReadRouteTrusted, true); errors.Is(err, ErrRouterClosed) {
			r.discarded++
			return n, err
		}
	}
	if bulk, ok := buf.(batch.BulkReader[[]byte]); ok && !r.pubClosed {
		// One synchronization with buf for the whole burst. The router
		// cannot close meanwhile (closing takes pubMu), so nothing taken
		// here is refused as closed.
		r.runTaken = bulk.TryNextN(r.runTaken[:0], runBurst-n)
		for _, v := range r.runTaken {
			_ = r.publishLocked(v, envelope.ReadRouteTrusted, true)
		}
		n += len(r.runTaken)
		clear(r.runTaken) // keep no envelope alive past its burst
		return n, nil
	}
	for n < runBurst {
		v, ok := buf.TryNext()
		if !ok {
			break
		}
		n++
		if err := r.publishLocked(v, envelope.ReadRouteTrusted, true); errors.Is(err, ErrRouterClosed) {
			r.discarded++
			return n, err
		}
	}
	return n, nil
}

// wakeBurst wakes the readers of the subscriptions written to in a burst,
// one signal each. Called under pubMu.
func (r *Router) wakeBurst() {
	for _, s := range r.burst {
		s.inBurst = false
		s.wake.signal(s.burstN, s.burstBytes)
		s.burstN, s.burstBytes = 0, 0
	}
	clear(r.burst)
	r.burst = r.burst[:0]
}

// routerDelivery is one envelope being delivered; it lives on Publish's stack.
type routerDelivery struct {
	env     []byte
	burst   *[]*routerSub // Run's burst list (Router.burst), or nil: wake at once
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
		p.hand(e.members[k].sub)
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
				p.hand(e.members[i].sub)
				return true
			}
			k--
		}
	}
	return false
}

// hand writes the envelope into s's buffer and wakes s's reader, at once
// or, in a burst, once at its end.
func (p *routerDelivery) hand(s *routerSub) {
	s.buf.Set(p.env)
	if p.burst == nil {
		s.wake.signal(1, len(p.env))
		return
	}
	s.burstN++
	s.burstBytes += len(p.env)
	if !s.inBurst {
		s.inBurst = true
		*p.burst = append(*p.burst, s)
	}
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
	if n := len(req.GetShardId()); n > r.cfg.limits.MaxShardIDLen {
		return nil, r.refuse(&routerRefusal{RefusedShardID, fmt.Errorf("%w: shard ID of %d bytes, at most %d", ErrRequestTooLarge, n, r.cfg.limits.MaxShardIDLen)})
	}
	if len(sels) > r.cfg.limits.MaxSelectors {
		// Checked before copying: a huge request costs nothing more.
		_, err := routerIndex(sels, r.cfg.limits)
		return nil, r.refuse(err)
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
		wake:    subWaker{ch: make(chan struct{}, 1)},
	}
	// Own copies: the caller may reuse its request.
	s.sels = make([]*envelope.Selector, 0, len(sels))
	for _, sel := range sels {
		s.sels = append(s.sels, proto.Clone(sel).(*envelope.Selector))
	}
	// Index the selectors before taking the lock, in time linear in them.
	if s.idx, err = routerIndex(s.sels, r.cfg.limits); err != nil {
		return nil, r.refuse(err)
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
	adopted := r.adopt(s)
	var g *routerGroup
	if s.shardID == "" {
		g = &routerGroup{}
	} else if g = r.groups[s.shardID]; g == nil {
		if len(r.groups) >= r.cfg.limits.MaxShards {
			r.mu.Unlock()
			_ = s.Close()
			return nil, r.refuse(&routerRefusal{RefusedShards, fmt.Errorf("%w: %d shard groups open, at most %d", ErrTooManyShards, r.cfg.limits.MaxShards, r.cfg.limits.MaxShards)})
		}
		g = &routerGroup{shardID: s.shardID}
		r.groups[s.shardID] = g
	}
	s.group = g
	g.members = append(g.members, s)
	r.subs[s] = struct{}{}
	r.routerRebuild(g)
	if adopted {
		r.adoptBarrier()
	}
	r.mu.Unlock()
	return s, nil
}

func (r *Router) reject() {
	r.mu.Lock()
	r.rejected++
	r.mu.Unlock()
}

// refuse counts a request refused by a limit and returns its error.
func (r *Router) refuse(err error) error {
	r.mu.Lock()
	r.rejected++
	var rf *routerRefusal
	if errors.As(err, &rf) {
		if r.refused == nil {
			r.refused = make(map[string]uint64)
		}
		r.refused[rf.cause]++
	}
	r.mu.Unlock()
	return err
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
	releaseBuffer(s.buf)
	r.routerTrimFolded()
}

// Stats returns a snapshot of the counters.
func (r *Router) Stats() RouterStats {
	r.mu.Lock()
	defer r.mu.Unlock()
	st := RouterStats{
		Subscriptions:   len(r.subs),
		RejectedStreams: r.rejected,
		Refused:         maps.Clone(r.refused),
		Shards:          make(map[string]ShardStats, len(r.folded)+len(r.groups)),
		PoolBytes:       r.cfg.sub.poolHeld(),
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
	st.Ingress, st.Malformed, st.Discarded, st.TooLarge, st.Unrouted = r.ingress, r.malformed, r.discarded, r.tooLarge, r.unrouted
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
	r          *Router
	id         uint64
	shardID    string
	detName    string
	sels       []*envelope.Selector
	idx        routerSelIndex
	buf        diode.Buffer[[]byte]
	wake       subWaker     // beside buf: the router reads both per envelope
	inBurst    bool         // in Router.burst; under Router.pubMu
	burstN     int          // envelopes written to it in this burst; under Router.pubMu
	burstBytes int          // and their bytes
	fillTimer  *time.Timer  // WaitFill's; under readMu
	group      *routerGroup // set under Router.mu

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
//
// It does not spin: when the buffer is empty it sleeps until the router
// wakes it (once per burst of Run's, see subWaker), ctx ends or the
// subscription closes. (A diode's own Next looks again a few times,
// yielding the processor in between; a goroutine that yields goes to the
// back of the scheduler's global queue, and on a busy machine waits there
// for milliseconds while its buffer fills.)
func (s *routerSub) Next(ctx context.Context) ([]byte, error) {
	s.readMu.Lock()
	defer s.readMu.Unlock()
	for {
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
		// Raise the flag, then look once more: either this look sees what
		// a writer published or the writer sees the flag (see subWaker).
		s.wake.target.Store(s.wake.written.Load() + 1)
		s.wake.targetBytes.Store(math.MaxUint64)
		s.wake.sleeping.Store(true)
		if v, ok := s.buf.TryNext(); ok {
			s.wake.sleeping.Store(false)
			s.read.Add(1)
			return v, nil
		}
		select {
		case <-s.wake.ch:
		case <-ctx.Done():
			s.wake.sleeping.Store(false)
			return nil, ctx.Err()
		case <-s.ctx.Done():
			s.wake.sleeping.Store(false)
			return nil, ErrSubscriptionClosed
		}
	}
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

// TryNextN appends up to n envelopes to dst, taking the reader's lock
// once (internal/batch.BulkReader: an Egress stream's batching reads
// through it).
func (s *routerSub) TryNextN(dst [][]byte, n int) [][]byte {
	s.readMu.Lock()
	defer s.readMu.Unlock()
	if s.closed.Load() {
		return dst
	}
	k := 0
	for ; k < n; k++ {
		v, ok := s.buf.TryNext()
		if !ok {
			break
		}
		dst = append(dst, v)
	}
	s.read.Add(uint64(k))
	return dst
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
