package harness

import (
	"fmt"
	"io"
	"strings"

	"github.com/sluicelog/sluice/diode"
	"github.com/sluicelog/sluice/nozzle"
)

// Report is the accounting of a topology, hop by hop. Counted drops are
// what a component counted itself, with its cause. Stream losses are
// measured by comparing both ends of a gRPC stream hop (what the sender
// counted sent against what the receiver counted received): they are the
// envelopes that were inside streams when connections broke, which no
// component can count. Each hop says how large they may be (Bound), from
// counts that do not come from the comparison itself: what the sender
// counted unconfirmed, or the streams broken by stopped routers times what
// one broken stream can hold (StreamLossPerBreak). A receiver that counted
// more than the sender sent got duplicates (acknowledged batches sent again
// after a failure): they are reported as Duplicates, bounded by the
// batches the pools retried.
type Report struct {
	// Sent is every envelope that entered the firehose: what load
	// generators emitted plus what routers emitted about themselves.
	Sent      uint64
	Emitted   uint64
	Telemetry uint64
	// Hops are the shared part of the path, in order.
	Hops []Hop
	// Groups are the per-shard-group tails of the path.
	Groups []GroupReport
	// Held is what buffers and streams hold right now (0 once drained).
	Held uint64
}

// Hop is one hop's books.
type Hop struct {
	Name     string
	In, Out  uint64
	Dropped  map[string]uint64 // counted, by cause
	Lost     int64             // measured in-stream loss on the way in (may be negative: duplicates)
	Bound    uint64            // how large in-stream loss may be, counted apart from the loss
	DupBound uint64            // how many duplicates the way in may carry (retried batches' envelopes)
	Detail   string
	Instance int
}

// GroupReport is a shard group's tail of the path and its balance.
type GroupReport struct {
	ShardID   string
	Nozzles   int
	Hops      []Hop
	Delivered uint64
	ByKind    map[string]uint64
	// Dropped is every counted drop on this group's path, shared hops
	// included; Lost every measured in-stream loss and Duplicates every
	// envelope counted twice (the hops' negative losses); Bound and
	// DupBound are the sums of the hops' bounds.
	Dropped    uint64
	Lost       int64
	Duplicates uint64
	Bound      uint64
	DupBound   uint64
	// SlowConsumerEpisodes counts the group's slow-consumer signals.
	SlowConsumerEpisodes uint64
}

// Balanced reports whether the group's books close: Sent + Duplicates ==
// Delivered + Dropped + Lost, with Lost and Duplicates within their bounds.
func (g GroupReport) Balanced(sent uint64) bool {
	return int64(sent)+int64(g.Duplicates) == int64(g.Delivered)+int64(g.Dropped)+g.Lost &&
		g.Lost >= 0 && uint64(g.Lost) <= g.Bound && g.Duplicates <= g.DupBound
}

// StreamLossPerBreak is the most envelopes one broken stream towards a
// proxy or a nozzle can take with it uncounted: two HTTP/2 flow-control
// windows (64 KiB each) of envelopes of at least 150 bytes, as the load's
// are.
const StreamLossPerBreak = 900

// streamHop compares both ends of a stream hop: the loss measured (what
// the senders counted sent less what the receivers counted received;
// negative: duplicates) and its bound, from the streams that broke (counted
// apart from the loss), never from the loss itself.
func streamHop(sent, received, broken uint64) (lost int64, bound uint64) {
	return int64(sent) - int64(received), broken * StreamLossPerBreak
}

// addHop adds a hop's measured loss to the group's books: a positive loss
// to Lost, a negative one (the receiver counted more) to Duplicates.
func (g *GroupReport) addHop(h Hop) {
	if h.Lost >= 0 {
		g.Lost += h.Lost
	} else {
		g.Duplicates += uint64(-h.Lost)
	}
	g.Bound += h.Bound
	g.DupBound += h.DupBound
}

// Balanced reports whether every group's books close.
func (r Report) Balanced() bool {
	for _, g := range r.Groups {
		if !g.Balanced(r.Sent) {
			return false
		}
	}
	return len(r.Groups) > 0
}

func (r Report) fingerprint() string {
	var b strings.Builder
	fmt.Fprint(&b, r.Sent)
	for _, h := range r.Hops {
		fmt.Fprint(&b, ",", h.In, h.Out, sum(h.Dropped))
	}
	for _, g := range r.Groups {
		fmt.Fprint(&b, ";", g.Delivered, g.Dropped, g.Lost)
	}
	return b.String()
}

// agentBatch is the most envelopes an agent's batch holds (its
// Forwarder's default batch size): a retried batch duplicates at most that
// many.
const agentBatch = 100

func sum(m map[string]uint64) uint64 {
	var n uint64
	for _, v := range m {
		n += v
	}
	return n
}

func add(m map[string]uint64, cause string, n uint64) {
	if n > 0 {
		m[cause] += n
	}
}

func pending(s diode.Stats) uint64 {
	_, _, p := diodeState(s)
	return p
}

// Report reads every component's stats now.
func (t *Topology) Report() Report {
	t.mu.Lock()
	routers := append([]*Router(nil), t.Routers...)
	t.mu.Unlock()
	var r Report
	r.Emitted = t.emitted.Load()
	for _, em := range t.Telemetry {
		r.Telemetry += em.Stats().Emitted
	}
	r.Sent = r.Emitted + r.Telemetry

	// Load generators (ingress.Client).
	lg := Hop{Name: "emitters", In: r.Emitted, Dropped: map[string]uint64{}}
	var emitterUnconfirmed uint64
	for _, c := range t.Emitters {
		s := c.Stats()
		lg.Out += s.Sent
		d := s.Dropped
		for cause, n := range d {
			add(lg.Dropped, cause, n)
		}
		emitterUnconfirmed += s.Unconfirmed
		r.Held += s.Emitted - min(s.Emitted, s.Sent+d.Total())
	}
	lg.Detail = fmt.Sprintf("%d load generators", len(t.Emitters))

	// Agents.
	ag := Hop{Name: "agents", Dropped: map[string]uint64{}, Bound: emitterUnconfirmed}
	var poolUnconfirmed, poolRetries uint64
	for _, a := range t.Agents {
		in := a.Ingress.Stats()
		ag.In += in.Ingress
		add(ag.Dropped, "rejected", in.Rejected.Total())
		bs := a.Buffer.Stats()
		add(ag.Dropped, "buffer_overflow", bs.Dropped)
		r.Held += pending(bs)
		fs := a.Forwarder.Stats()
		ag.Out += fs.Egress
		for cause, n := range fs.Dropped {
			add(ag.Dropped, "pool_"+cause, n)
		}
		r.Held += fs.Pending
		ps := a.Pool.Stats()
		poolUnconfirmed += ps.Unconfirmed
		poolRetries += ps.Retries
	}
	ag.Lost = int64(lg.Out) - int64(ag.In) - int64(ag.Dropped["rejected"])
	ag.Detail = fmt.Sprintf("%d agents", len(t.Agents))

	// Routers.
	rt := Hop{Name: "routers", Dropped: map[string]uint64{}, Bound: poolUnconfirmed, DupBound: poolRetries * agentBatch}
	type shardSide struct{ routed, dropped, notRouted uint64 }
	var stoppedRouters uint64
	shards := map[string]*shardSide{}
	var routerIngress uint64
	for _, x := range routers {
		in := x.Ingress.Stats()
		routerIngress += in.Ingress
		add(rt.Dropped, "rejected", in.Rejected.Total())
		bs := x.Buffer.Stats()
		add(rt.Dropped, "buffer_overflow", bs.Dropped)
		rs := x.Router.Stats()
		add(rt.Dropped, "malformed", rs.Malformed)
		add(rt.Dropped, "discarded_at_stop", rs.Discarded)
		rt.Out += rs.Ingress
		if t.stopped[x] {
			stoppedRouters++
			add(rt.Dropped, "discarded_at_stop", pending(bs))
		} else {
			r.Held += pending(bs)
		}
		es := x.Egress.Stats()
		// The router's books per group: what it took in and did not hand
		// to the group (no member subscribed there then; unrouted when no
		// group was).
		for _, g := range t.cfg.Groups {
			side := shards[g.ShardID]
			if side == nil {
				side = &shardSide{}
				shards[g.ShardID] = side
			}
			side.notRouted += rs.Ingress - min(rs.Ingress, rs.Shards[g.ShardID].Egress)
		}
		for shard, s := range rs.Shards {
			side := shards[shard]
			if side == nil {
				side = &shardSide{}
				shards[shard] = side
			}
			// The router's own counts for the shard: copies handed to its
			// subscriptions, and what they dropped or the server could not
			// send.
			side.routed += s.Egress
			side.dropped += s.Dropped.Total() + es.DroppedByShard[shard].Total()
		}
	}
	rt.In = routerIngress + r.Telemetry
	rt.Lost = int64(ag.Out) - int64(routerIngress) - int64(rt.Dropped["rejected"])
	rt.Detail = fmt.Sprintf("%d routers", len(routers))
	r.Hops = []Hop{lg, ag, rt}
	common := sum(lg.Dropped) + sum(ag.Dropped) + sum(rt.Dropped)

	// Per group: router egress -> proxy Firehoses -> proxy egress -> nozzles.
	firehoses := t.Proxy.Firehoses()
	proxyStats := t.Proxy.Egress.Stats()
	for _, g := range t.cfg.Groups {
		gr := GroupReport{ShardID: g.ShardID, Nozzles: g.Nozzles, ByKind: map[string]uint64{}}
		side := shards[g.ShardID]
		if side == nil {
			side = &shardSide{}
		}
		// The routers' books for the group, from their own counters:
		// copies routed to its subscriptions (In), what those and the
		// egress servers dropped, and what they took in but did not route
		// to the group (no member subscribed there then), which the
		// group's path counts as dropped. Out is what the routers sent on.
		rHop := Hop{Name: "router egress", In: side.routed, Out: side.routed - min(side.routed, side.dropped), Dropped: map[string]uint64{}}
		add(rHop.Dropped, "subscription_overflow_or_stream", side.dropped)
		add(rHop.Dropped, "not_routed", side.notRouted)

		fh := Hop{Name: "proxy firehose", Dropped: map[string]uint64{}}
		var fhDelivered uint64
		for _, f := range firehoses {
			if f.ShardID != g.ShardID {
				continue
			}
			s := f.Firehose.Stats()
			fh.In += s.Received
			fhDelivered += s.Delivered
			add(fh.Dropped, "buffer_full", s.Dropped[nozzle.CauseOverflow])
			add(fh.Dropped, "shutdown", s.Dropped[nozzle.CauseShutdown])
			r.Held += uint64(s.Buffered)
		}
		// Both ends of the router -> proxy streams: what the routers sent
		// on against what the proxy's Firehoses received. A stopped router
		// breaks one stream per nozzle of the group.
		fh.Lost, fh.Bound = streamHop(rHop.Out, fh.In, stoppedRouters*uint64(g.Nozzles))
		proxyDropped := proxyStats.DroppedByShard[g.ShardID].Total()
		fh.Out = fhDelivered - min(fhDelivered, proxyDropped)
		add(fh.Dropped, "stream_broken", proxyDropped)

		nz := Hop{Name: "nozzles", Dropped: map[string]uint64{}}
		var nzReconnects uint64
		for _, n := range t.Nozzles {
			if n.Group != g.ShardID {
				continue
			}
			s := n.Reader.Stats()
			nz.In += s.Received
			nzReconnects += s.Reconnects
			add(nz.Dropped, "slow_consumer", s.Dropped[nozzle.CauseOverflow])
			add(nz.Dropped, "shutdown", s.Dropped[nozzle.CauseShutdown])
			gr.SlowConsumerEpisodes += s.SlowConsumerEpisodes
			r.Held += uint64(s.Buffered)
			total, byKind := n.Delivered()
			gr.Delivered += total
			for k, v := range byKind {
				gr.ByKind[k] += v
			}
			// Delivered by the reader but not yet counted by the consumer
			// goroutine is held.
			r.Held += s.Delivered - min(s.Delivered, total)
		}
		// Both ends of the proxy -> nozzle streams: what the proxy's
		// Firehoses delivered less what its server could not send, against
		// what the nozzles received. Each nozzle reconnect is a stream
		// that broke.
		nz.Lost, nz.Bound = streamHop(fh.Out, nz.In, nzReconnects)
		nz.Out = gr.Delivered
		gr.Hops = []Hop{rHop, fh, nz}
		gr.Dropped = common + sum(rHop.Dropped) + sum(fh.Dropped) + sum(nz.Dropped)
		for _, h := range []Hop{ag, rt, fh, nz} {
			gr.addHop(h)
		}
		r.Groups = append(r.Groups, gr)
	}
	return r
}

// Print writes the report as a table.
func (r Report) Print(w io.Writer) {
	fmt.Fprintf(w, "sent %d (load %d + router telemetry %d)\n", r.Sent, r.Emitted, r.Telemetry)
	printHop := func(indent string, h Hop) {
		fmt.Fprintf(w, "%s%-16s in %-9d out %-9d", indent, h.Name, h.In, h.Out)
		if h.Lost > 0 {
			fmt.Fprintf(w, " lost-in-stream %d (bound %d)", h.Lost, h.Bound)
		}
		if h.Lost < 0 {
			fmt.Fprintf(w, " duplicates %d (bound %d)", -h.Lost, h.DupBound)
		}
		for _, c := range sortedCauses(h.Dropped) {
			fmt.Fprintf(w, " dropped[%s] %d", c, h.Dropped[c])
		}
		fmt.Fprintln(w)
	}
	for _, h := range r.Hops {
		printHop("  ", h)
	}
	for _, g := range r.Groups {
		status := "balanced"
		if !g.Balanced(r.Sent) {
			status = "NOT BALANCED"
		}
		fmt.Fprintf(w, "shard group %q (%d nozzles): delivered %d + dropped %d + lost in streams %d (bound %d) - duplicates %d (bound %d) = %d of %d sent: %s\n",
			g.ShardID, g.Nozzles, g.Delivered, g.Dropped, g.Lost, g.Bound, g.Duplicates, g.DupBound,
			int64(g.Delivered)+int64(g.Dropped)+g.Lost-int64(g.Duplicates), r.Sent, status)
		for _, h := range g.Hops {
			printHop("    ", h)
		}
		if g.SlowConsumerEpisodes > 0 {
			fmt.Fprintf(w, "    slow-consumer episodes: %d\n", g.SlowConsumerEpisodes)
		}
	}
}
