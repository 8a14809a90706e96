package firehose

import "github.com/sluicelog/sluice/stats"

var _ stats.Reporter = (*Handler)(nil)

// Report describes the Handler's counters under Loggregator's names:
// egress, dropped{direction=egress,cause}, slow_consumer, rejected_streams
// and the gauge streams.
func (h *Handler) Report(emit func(stats.Metric)) {
	st := h.Stats()
	emit(stats.CounterOf(stats.Egress, stats.HelpEgress, st.Egress))
	stats.ReportDropped(emit, stats.DirectionEgress, st.Dropped, []string{CauseSlowConsumer, CauseClientGone})
	emit(stats.CounterOf(stats.SlowConsumer, stats.HelpSlowConsumer, st.SlowConsumers))
	emit(stats.CounterOf(stats.RejectedStreams, stats.HelpRejectedStreams, st.RejectedStreams))
	emit(stats.GaugeOf(stats.Streams, stats.HelpStreams, float64(st.Streams)))
}
