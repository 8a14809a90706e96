package metrics

import (
	"context"
	"sort"
	"sync"

	"github.com/sluicelog/sluice/egress/forward"
	"github.com/sluicelog/sluice/egress/serve"
	"github.com/sluicelog/sluice/envelope"
	"github.com/sluicelog/sluice/ingress"
	"github.com/sluicelog/sluice/nozzle"
	"github.com/sluicelog/sluice/telemetry"
)

func part(name string, src telemetry.Source) telemetry.Source {
	return telemetry.WithTags(src, map[string]string{"part": name})
}

// Router reports a router's components: its ingress server, the
// subscription router (egress and drops per shard ID, subscriptions), its
// egress server and its gateway (nil: none).
func Router(in *ingress.Server, rt *serve.Router, eg *serve.Server, gw *serve.Gateway) telemetry.Source {
	srcs := []telemetry.Source{
		part("ingress_server", telemetry.IngressServer(in)),
		part("router", telemetry.Router(rt)),
		part("egress_server", telemetry.EgressServer(eg)),
	}
	if gw != nil {
		srcs = append(srcs, part("gateway", telemetry.Gateway(gw)))
	}
	return telemetry.Sources(srcs...)
}

// Agent reports an agent's components: its ingress server, the forwarder
// (egress and drops by cause) and the pool (doppler_connections,
// unconfirmed).
func Agent(in *ingress.Server, fwd *forward.Forwarder, pool *forward.Pool) telemetry.Source {
	return telemetry.Sources(
		part("ingress_server", telemetry.IngressServer(in)),
		part("forwarder", telemetry.Forwarder(fwd)),
		part("pool", telemetry.Pool(pool)),
	)
}

// Firehoses records the Firehose a proxy starts for each subscriber, so
// that their stats can be reported after they close. The zero value is
// ready to use.
type Firehoses struct {
	mu   sync.Mutex
	list []shardFirehose
}

type shardFirehose struct {
	shardID  string
	firehose *nozzle.Firehose
}

// Record wraps a subscribe function such as nozzle.FirehoseSubscriber's and
// keeps every Firehose it starts.
func (f *Firehoses) Record(subscribe func(context.Context, *envelope.EgressBatchRequest) (nozzle.Subscription, error)) serve.SubscriberFunc {
	return func(ctx context.Context, req *envelope.EgressBatchRequest) (serve.Subscription, error) {
		s, err := subscribe(ctx, req)
		if fh, ok := s.(*nozzle.Firehose); ok && err == nil {
			f.mu.Lock()
			f.list = append(f.list, shardFirehose{shardID: req.GetShardId(), firehose: fh})
			f.mu.Unlock()
		}
		return s, err
	}
}

// byShard sums the stats of every Firehose recorded, open and closed, per
// shard ID.
func (f *Firehoses) byShard() map[string]nozzle.Stats {
	f.mu.Lock()
	list := append([]shardFirehose(nil), f.list...)
	f.mu.Unlock()
	byShard := map[string]nozzle.Stats{}
	for _, s := range list {
		st := s.firehose.Stats()
		sum := byShard[s.shardID]
		sum.Received += st.Received
		sum.Delivered += st.Delivered
		for cause, n := range st.Dropped {
			sum.Dropped.Add(cause, n)
		}
		sum.Reconnects += st.Reconnects
		sum.Connected += st.Connected
		sum.SlowConsumerEpisodes += st.SlowConsumerEpisodes
		byShard[s.shardID] = sum
	}
	return byShard
}

// Proxy reports a proxy: its subscribers' Firehoses, summed per shard ID
// (closed ones included, so counters never go back), its egress server and
// its gateway (nil: none).
func Proxy(firehoses *Firehoses, eg *serve.Server, gw *serve.Gateway) telemetry.Source {
	fh := telemetry.SourceFunc(func(dst []telemetry.Metric) []telemetry.Metric {
		byShard := firehoses.byShard()
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
	srcs := []telemetry.Source{part("firehose", fh), part("egress_server", telemetry.EgressServer(eg))}
	if gw != nil {
		srcs = append(srcs, part("gateway", telemetry.Gateway(gw)))
	}
	return telemetry.Sources(srcs...)
}

// Reader reports a nozzle.Reader subscribed with shardID.
func Reader(r *nozzle.Reader, shardID string) telemetry.Source {
	return part("reader", telemetry.Nozzle(r.Stats, shardID))
}
