package metrics

import (
	"sort"

	"github.com/sluicelog/sluice/harness"
	"github.com/sluicelog/sluice/nozzle"
	"github.com/sluicelog/sluice/telemetry"
)

func part(name string, src telemetry.Source) telemetry.Source {
	return telemetry.WithTags(src, map[string]string{"part": name})
}

// Router reports a harness.Router: its ingress server, the subscription
// router (egress and drops per shard ID, subscriptions), its egress server
// and its gateway.
func Router(r *harness.Router) telemetry.Source {
	srcs := []telemetry.Source{
		part("ingress_server", telemetry.IngressServer(r.Ingress)),
		part("router", telemetry.Router(r.Router)),
		part("egress_server", telemetry.EgressServer(r.Egress)),
	}
	if r.Gateway != nil {
		srcs = append(srcs, part("gateway", telemetry.Gateway(r.Gateway)))
	}
	return telemetry.Sources(srcs...)
}

// Agent reports a harness.Agent: its ingress server, the forwarder (egress
// and drops by cause) and the pool (doppler_connections, unconfirmed).
func Agent(a *harness.Agent) telemetry.Source {
	return telemetry.Sources(
		part("ingress_server", telemetry.IngressServer(a.Ingress)),
		part("forwarder", telemetry.Forwarder(a.Forwarder)),
		part("pool", telemetry.Pool(a.Pool)),
	)
}

// Proxy reports a harness.Proxy: its subscribers' Firehoses, summed per
// shard ID (closed ones included, so counters never go back), and its egress
// server.
func Proxy(p *harness.Proxy) telemetry.Source {
	fh := telemetry.SourceFunc(func(dst []telemetry.Metric) []telemetry.Metric {
		byShard := map[string]nozzle.Stats{}
		for _, s := range p.Firehoses() {
			st := s.Firehose.Stats()
			sum := byShard[s.ShardID]
			sum.Received += st.Received
			sum.Delivered += st.Delivered
			for cause, n := range st.Dropped {
				sum.Dropped.Add(cause, n)
			}
			sum.Reconnects += st.Reconnects
			sum.Connected += st.Connected
			sum.SlowConsumerEpisodes += st.SlowConsumerEpisodes
			byShard[s.ShardID] = sum
		}
		shards := make([]string, 0, len(byShard))
		for shard := range byShard {
			shards = append(shards, shard)
		}
		sort.Strings(shards)
		for _, shard := range shards {
			st := byShard[shard]
			src := telemetry.WithTags(telemetry.Nozzle(func() nozzle.Stats { return st }, shard), map[string]string{"shard_id": shard})
			dst = src.Metrics(dst)
		}
		return dst
	})
	srcs := []telemetry.Source{part("firehose", fh), part("egress_server", telemetry.EgressServer(p.Egress))}
	if p.Gateway != nil {
		srcs = append(srcs, part("gateway", telemetry.Gateway(p.Gateway)))
	}
	return telemetry.Sources(srcs...)
}

// Reader reports a nozzle.Reader subscribed with shardID.
func Reader(r *nozzle.Reader, shardID string) telemetry.Source {
	return part("reader", telemetry.Nozzle(r.Stats, shardID))
}
