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
// component can count, and each hop says how large they may be (Bound).
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
	Bound    uint64            // how large in-stream loss may be, as the sender counted it
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
	// included; Lost every measured in-stream loss.
	Dropped uint64
	Lost    int64
	Bound   uint64
	// SlowConsumerEpisodes counts the group's slow-consumer signals.
	SlowConsumerEpisodes uint64
}

// Balanced reports whether the group's books close: Sent == Delivered +
// Dropped + Lost, with Lost never negative and within the senders' bounds.
func (g GroupReport) Balanced(sent uint64) bool {
	return int64(sent) == int64(g.Delivered)+int64(g.Dropped)+g.Lost && g.Lost >= 0 && uint64(g.Lost) <= g.Bound
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
	var poolUnconfirmed uint64
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
		poolUnconfirmed += a.Pool.Stats().Unconfirmed
	}
	ag.Lost = int64(lg.Out) - int64(ag.In) - int64(ag.Dropped["rejected"])
	ag.Detail = fmt.Sprintf("%d agents", len(t.Agents))

	// Routers.
	rt := Hop{Name: "routers", Dropped: map[string]uint64{}, Bound: poolUnconfirmed}
	type shardSide struct{ out, dropped, notRouted uint64 }
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
			side.dropped += s.Dropped.Total() + es.DroppedByShard[shard].Total()
			// What left the router for this shard: copies handed to its
			// subscriptions, less what they dropped and what the server
			// could not send. Anything else is still held.
			sent := s.Egress - min(s.Egress, s.Dropped.Total()+es.DroppedByShard[shard].Total())
			side.out += sent
		}
	}
	rt.In = routerIngress + r.Telemetry
	rt.Lost = int64(ag.Out) - int64(routerIngress) - int64(rt.Dropped["rejected"])
	rt.Detail = fmt.Sprintf("%d routers", len(routers))
	r.Hops = []Hop{lg, ag, rt}
	common := sum(lg.Dropped) + sum(ag.Dropped) + sum(rt.Dropped)
	commonLost := ag.Lost + rt.Lost
	commonBound := ag.Bound + rt.Bound

	// Per group: router egress -> proxy Firehoses -> proxy egress -> nozzles.
	firehoses := t.Proxy.Firehoses()
	proxyStats := t.Proxy.Egress.Stats()
	for _, g := range t.cfg.Groups {
		gr := GroupReport{ShardID: g.ShardID, Nozzles: g.Nozzles, ByKind: map[string]uint64{}}
		side := shards[g.ShardID]
		if side == nil {
			side = &shardSide{}
		}
		rHop := Hop{Name: "router egress", In: side.out + side.dropped + side.notRouted, Out: side.out, Dropped: map[string]uint64{}}
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
		fh.Lost = int64(side.out) - int64(fh.In)
		proxyDropped := proxyStats.DroppedByShard[g.ShardID].Total()
		fh.Out = fhDelivered - min(fhDelivered, proxyDropped)
		add(fh.Dropped, "stream_broken", proxyDropped)

		nz := Hop{Name: "nozzles", Dropped: map[string]uint64{}}
		for _, n := range t.Nozzles {
			if n.Group != g.ShardID {
				continue
			}
			s := n.Reader.Stats()
			nz.In += s.Received
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
		nz.Lost = int64(fh.Out) - int64(nz.In)
		nz.Out = gr.Delivered
		gr.Hops = []Hop{rHop, fh, nz}
		gr.Dropped = common + sum(rHop.Dropped) + sum(fh.Dropped) + sum(nz.Dropped)
		gr.Lost = commonLost + fh.Lost + nz.Lost
		// Stream hops towards nozzles have no sender-side bound in the
		// stats; what was in them is measured exactly here, and bounded
		// by the tests.
		gr.Bound = commonBound + uint64(max(fh.Lost, 0)) + uint64(max(nz.Lost, 0))
		r.Groups = append(r.Groups, gr)
	}
	return r
}

// Print writes the report as a table.
func (r Report) Print(w io.Writer) {
	fmt.Fprintf(w, "sent %d (load %d + router telemetry %d)\n", r.Sent, r.Emitted, r.Telemetry)
	printHop := func(indent string, h Hop) {
		fmt.Fprintf(w, "%s%-16s in %-9d out %-9d", indent, h.Name, h.In, h.Out)
		if h.Lost != 0 {
			fmt.Fprintf(w, " lost-in-stream %d (bound %d)", h.Lost, h.Bound)
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
		fmt.Fprintf(w, "shard group %q (%d nozzles): delivered %d + dropped %d + lost in streams %d = %d of %d sent: %s\n",
			g.ShardID, g.Nozzles, g.Delivered, g.Dropped, g.Lost, int64(g.Delivered)+int64(g.Dropped)+g.Lost, r.Sent, status)
		for _, h := range g.Hops {
			printHop("    ", h)
		}
		if g.SlowConsumerEpisodes > 0 {
			fmt.Fprintf(w, "    slow-consumer episodes: %d\n", g.SlowConsumerEpisodes)
		}
	}
}
