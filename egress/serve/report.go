package serve

import (
	"maps"
	"slices"

	"github.com/sluicelog/sluice/stats"
)

const (
	evictedStreams     = "evicted_streams"
	helpEvictedStreams = "Streams ended because their client read nothing for the write or send timeout."
)

var (
	_ stats.Reporter = (*Router)(nil)
	_ stats.Reporter = (*Server)(nil)
	_ stats.Reporter = (*Gateway)(nil)
)

// Report describes the Router's counters under Loggregator's names:
// ingress (envelopes published), routed and unrouted (envelopes handed to at
// least one subscription, and to none: ingress == routed + unrouted),
// egress (copies handed to subscriptions),
// dropped{direction=ingress,cause=malformed} (envelopes Publish refused),
// dropped{direction=egress,shard_id,cause} per shard ID (cause overflow, or
// shutdown for what a subscription held when it closed), rejected_streams,
// the gauge subscriptions (and subscription_pool_bytes with
// WithSubscriptionPool), and per shard ID egress_by_shard and the gauge
// subscriptions_by_shard (under their own names, so that summing egress or
// subscriptions counts each envelope or subscription once).
func (r *Router) Report(emit func(stats.Metric)) {
	st := r.Stats()
	emit(stats.CounterOf(stats.Ingress, stats.HelpIngress, st.Ingress))
	emit(stats.CounterOf(stats.Routed, stats.HelpRouted, st.Routed))
	emit(stats.CounterOf(stats.Unrouted, stats.HelpUnrouted, st.Unrouted))
	emit(stats.CounterOf(stats.Egress, stats.HelpEgress, st.Egress))
	stats.ReportDropped(emit, stats.DirectionIngress, stats.Drops{stats.CauseMalformed: st.Malformed, stats.CauseTooLarge: st.TooLarge, CauseClosed: st.Discarded}, []string{stats.CauseMalformed, stats.CauseTooLarge, CauseClosed})
	emit(stats.CounterOf(stats.RejectedStreams, stats.HelpRejectedStreams, st.RejectedStreams))
	emit(stats.GaugeOf(stats.Subscriptions, stats.HelpSubscriptions, float64(st.Subscriptions)))
	if r.cfg.sub.pool != nil {
		emit(stats.GaugeOf(subscriptionPoolBytes, helpSubscriptionPoolBytes, float64(st.PoolBytes)))
	}
	reportRefused(emit, st.Refused)
	for _, id := range slices.Sorted(maps.Keys(st.Shards)) {
		sh := st.Shards[id]
		shard := stats.Tag{Key: stats.TagShardID, Value: id}
		stats.ReportDropped(emit, stats.DirectionEgress, sh.Dropped, []string{CauseOverflow, CauseClosed}, shard)
		emit(stats.CounterOf("egress_by_shard", "Envelope copies handed to the subscriptions of one shard ID.", sh.Egress, shard))
		emit(stats.GaugeOf("subscriptions_by_shard", "Subscriptions open now with one shard ID.", float64(sh.Subscriptions), shard))
	}
}

// Report describes the Server's counters: egress (envelopes sent to
// subscribers), dropped{direction=egress,shard_id,cause} per shard ID
// (read from a subscription, lost with a broken stream or an evicted one),
// evicted_streams,
// rejected_streams and the gauge streams.
func (s *Server) Report(emit func(stats.Metric)) {
	st := s.Stats()
	emit(stats.CounterOf(stats.Egress, stats.HelpEgress, st.Egress))
	for _, id := range slices.Sorted(maps.Keys(st.DroppedByShard)) {
		stats.ReportDropped(emit, stats.DirectionEgress, st.DroppedByShard[id], []string{CauseStreamBroken}, stats.Tag{Key: stats.TagShardID, Value: id})
	}
	emit(stats.CounterOf(evictedStreams, helpEvictedStreams, st.Evicted))
	emit(stats.CounterOf(stats.RejectedStreams, stats.HelpRejectedStreams, st.RejectedStreams))
	reportRefused(emit, st.Refused)
	emit(stats.GaugeOf(stats.Streams, stats.HelpStreams, float64(st.Streams)))
	s.tlsWatch.Report(emit)
	s.conns.Report(emit)
}

// Report describes the Gateway's counters: egress (envelopes written to
// HTTP clients), dropped{direction=egress,shard_id,cause} per shard ID
// (client_gone, malformed, write_timeout), evicted_streams,
// rejected_streams and the gauge streams.
func (g *Gateway) Report(emit func(stats.Metric)) {
	st := g.Stats()
	emit(stats.CounterOf(stats.Egress, stats.HelpEgress, st.Egress))
	for _, id := range slices.Sorted(maps.Keys(st.DroppedByShard)) {
		stats.ReportDropped(emit, stats.DirectionEgress, st.DroppedByShard[id], []string{CauseClientGone}, stats.Tag{Key: stats.TagShardID, Value: id})
	}
	emit(stats.CounterOf(evictedStreams, helpEvictedStreams, st.Evicted))
	emit(stats.CounterOf(stats.RejectedStreams, stats.HelpRejectedStreams, st.RejectedStreams))
	reportRefused(emit, st.Refused)
	emit(stats.GaugeOf(stats.Streams, stats.HelpStreams, float64(st.Streams)))
}
