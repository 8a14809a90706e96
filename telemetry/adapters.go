package telemetry

import (
	"sort"

	"github.com/sluicelog/sluice/diode"
	"github.com/sluicelog/sluice/egress/forward"
	"github.com/sluicelog/sluice/egress/serve"
	"github.com/sluicelog/sluice/ingress"
	"github.com/sluicelog/sluice/nozzle"
	"github.com/sluicelog/sluice/stats"
)

// The adapters below map each component's Stats onto Loggregator's metric
// names. Every drop carries a direction and, where the component knows it,
// a cause and a shard_id tag, so loss can be located from a dashboard.

func counter(name string, v uint64, tags ...string) Metric {
	return Metric{Name: name, Kind: Counter, Value: float64(v), Tags: tagMap(tags)}
}

// drops appends one dropped counter per cause of d (in cause order), tagged
// with the extra tags given.
func drops(dst []Metric, d stats.Drops, tags ...string) []Metric {
	for _, cause := range d.Causes() {
		dst = append(dst, counter("dropped", d[cause], append(tags[:len(tags):len(tags)], "cause", cause)...))
	}
	return dst
}

func gauge(name string, v float64, tags ...string) Metric {
	return Metric{Name: name, Kind: Gauge, Value: v, Tags: tagMap(tags)}
}

// keys returns m's keys in order, so series come out in the same order on
// every scrape.
func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func tagMap(kv []string) map[string]string {
	if len(kv) == 0 {
		return nil
	}
	m := make(map[string]string, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

// IngressServer reports an ingress.Server: ingress, dropped{direction=
// ingress} (its buffer's drops) and rejected{cause}.
func IngressServer(s *ingress.Server) Source {
	return SourceFunc(func(dst []Metric) []Metric {
		st := s.Stats()
		dst = append(dst, counter("ingress", st.Ingress))
		dst = drops(dst, st.Dropped, "direction", "ingress")
		return append(dst,
			counter("rejected", st.Rejected.Malformed, "cause", "malformed"),
			counter("rejected", st.Rejected.TooLarge, "cause", "too_large"),
			counter("rejected", st.Rejected.Closed, "cause", "closed"),
		)
	})
}

// IngressClient reports an emitting ingress.Client: egress (envelopes sent)
// and dropped{direction=ingress,cause}, plus unconfirmed.
func IngressClient(c *ingress.Client) Source {
	return SourceFunc(func(dst []Metric) []Metric {
		st := c.Stats()
		dst = append(dst,
			counter("egress", st.Sent),
			counter("unconfirmed", st.Unconfirmed),
		)
		return drops(dst, st.Dropped, "direction", "ingress")
	})
}

// Forwarder reports an agent's Forwarder: egress and dropped{direction=
// egress,cause}.
func Forwarder(f *forward.Forwarder) Source {
	return SourceFunc(func(dst []Metric) []Metric {
		st := f.Stats()
		dst = append(dst, counter("egress", st.Egress))
		for _, cause := range keys(st.Dropped) {
			dst = append(dst, counter("dropped", st.Dropped[cause], "direction", "egress", "cause", cause))
		}
		return dst
	})
}

// Pool reports an agent's Pool: doppler_connections (streams up),
// doppler_connections_by_zone (the same split by router zone, under its own
// name so that summing doppler_connections does not count streams twice),
// no_routers and unconfirmed.
func Pool(p *forward.Pool) Source {
	return SourceFunc(func(dst []Metric) []Metric {
		st := p.Stats()
		noRouters := 0.0
		if st.NoRouters {
			noRouters = 1
		}
		dst = append(dst,
			gauge("doppler_connections", float64(st.Streams)),
			gauge("no_routers", noRouters),
			counter("unconfirmed", st.Unconfirmed),
		)
		for _, zone := range keys(st.StreamsByZone) {
			dst = append(dst, gauge("doppler_connections_by_zone", float64(st.StreamsByZone[zone]), "zone", zone))
		}
		return dst
	})
}

// Router reports an serve.Router: ingress, egress, dropped{direction=
// egress,shard_id,cause} (cause subscription_overflow, or shutdown for what
// a subscription held when it closed), subscriptions (in all, and per
// shard_id under subscriptions_by_shard) and rejected_streams.
func Router(r *serve.Router) Source {
	return SourceFunc(func(dst []Metric) []Metric {
		st := r.Stats()
		dst = append(dst,
			counter("ingress", st.Ingress),
			counter("egress", st.Egress),
			counter("rejected", st.Malformed, "cause", "malformed"),
			gauge("subscriptions", float64(st.Subscriptions)),
			counter("rejected_streams", st.RejectedStreams),
		)
		for _, shard := range keys(st.Shards) {
			s := st.Shards[shard]
			dst = drops(dst, s.Dropped, "direction", "egress", "shard_id", shard)
			dst = append(dst, gauge("subscriptions_by_shard", float64(s.Subscriptions), "shard_id", shard))
		}
		return dst
	})
}

// EgressServer reports an serve.Server: egress (sent to subscribers),
// dropped{direction=egress,shard_id} (lost to broken streams) and
// rejected_streams.
func EgressServer(s *serve.Server) Source {
	return SourceFunc(func(dst []Metric) []Metric {
		st := s.Stats()
		dst = append(dst,
			counter("egress", st.Egress),
			counter("rejected_streams", st.RejectedStreams),
			gauge("streams", float64(st.Streams)),
		)
		for _, shard := range keys(st.DroppedByShard) {
			dst = drops(dst, st.DroppedByShard[shard], "direction", "egress", "shard_id", shard)
		}
		return dst
	})
}

// Gateway reports an serve.Gateway: egress (envelopes written to HTTP
// clients), dropped{direction=egress,cause=client_gone}, rejected_streams
// and streams.
func Gateway(g *serve.Gateway) Source {
	return SourceFunc(func(dst []Metric) []Metric {
		st := g.Stats()
		dst = append(dst,
			counter("egress", st.Egress),
			counter("rejected_streams", st.RejectedStreams),
			gauge("streams", float64(st.Streams)),
		)
		return drops(dst, st.Dropped, "direction", "egress")
	})
}

// Nozzle reports a consumer (nozzle.Reader, Firehose or GatewayReader, via
// its Stats method): ingress (received), egress (delivered to the user),
// dropped{direction=egress} by cause, slow_consumer and doppler_connections.
func Nozzle(stats func() nozzle.Stats, shardID string) Source {
	return SourceFunc(func(dst []Metric) []Metric {
		st := stats()
		dst = drops(dst, st.Dropped, "direction", "egress", "shard_id", shardID)
		return append(dst,
			counter("ingress", st.Received),
			counter("egress", st.Delivered),
			counter("slow_consumer", st.SlowConsumerEpisodes),
			gauge("doppler_connections", float64(st.Connected)),
			counter("reconnects", st.Reconnects),
		)
	})
}

// Buffer reports a diode's own drops as dropped{direction}; use it for
// buffers no component above reports (an agent's ingress diode is reported
// by IngressServer).
func Buffer(b interface{ Stats() diode.Stats }, direction string) Source {
	return SourceFunc(func(dst []Metric) []Metric {
		st := b.Stats()
		return append(dst,
			counter("dropped", st.Dropped, "direction", direction, "cause", "buffer_overflow"),
			gauge("buffer_pending", float64(st.Written-min(st.Written, st.Read+st.Dropped))),
			counter("collisions", st.Collisions, "direction", direction),
		)
	})
}
