package nozzle

import (
	"net/url"

	"github.com/sluicelog/sluice/stats"
)

var (
	_ stats.Reporter = (*Reader)(nil)
	_ stats.Reporter = (*Firehose)(nil)
	_ stats.Reporter = (*GatewayReader)(nil)
)

// Report describes the Reader's counters; see Stats.report. It adds
// tls_handshake_failures{cause}.
func (r *Reader) Report(emit func(stats.Metric)) {
	r.Stats().report(emit, r.stream.req.GetShardId())
	r.cfg.tlsWatch.Report(emit)
}

// Report describes the Firehose's counters; see Stats.report. It adds
// tls_handshake_failures{cause}.
func (f *Firehose) Report(emit func(stats.Metric)) {
	f.Stats().report(emit, f.req.GetShardId())
	f.cfg.tlsWatch.Report(emit)
}

// Report describes the GatewayReader's counters; see Stats.report. It adds
// tls_handshake_failures{cause}.
func (g *GatewayReader) Report(emit func(stats.Metric)) {
	shardID := ""
	if u, err := url.Parse(g.url); err == nil {
		shardID = u.Query().Get("shard_id")
	}
	g.Stats().report(emit, shardID)
	g.cfg.tlsWatch.Report(emit)
}

// report emits a consumer's counters under Loggregator's names: ingress
// (received), egress (delivered to the user), dropped{direction=egress,
// shard_id,cause} (overflow: the consumer was too slow; shutdown: held when
// it closed), slow_consumer, reconnects, malformed_batches, and the gauges
// doppler_connections and buffered.
func (st Stats) report(emit func(stats.Metric), shardID string) {
	shard := stats.Tag{Key: stats.TagShardID, Value: shardID}
	emit(stats.CounterOf(stats.Ingress, stats.HelpIngress, st.Received))
	emit(stats.CounterOf(stats.Egress, stats.HelpEgress, st.Delivered))
	stats.ReportDropped(emit, stats.DirectionEgress, st.Dropped,
		[]string{stats.CauseOverflow}, shard)
	emit(stats.CounterOf(stats.SlowConsumer, stats.HelpSlowConsumer, st.SlowConsumerEpisodes))
	emit(stats.CounterOf(stats.Reconnects, stats.HelpReconnects, st.Reconnects))
	emit(stats.CounterOf("malformed_batches", "Batches dropped because they did not parse (their envelopes are not in ingress).", st.Malformed))
	emit(stats.GaugeOf(stats.DopplerConnections, stats.HelpDopplerConnections, float64(st.Connected)))
	emit(stats.GaugeOf(stats.Buffered, stats.HelpBuffered, float64(st.Buffered)))
}
