package dropsonde

import "github.com/sluicelog/sluice/stats"

var _ stats.Reporter = (*Ingestor)(nil)

// causeUnsupportedType is the cause under which envelopes of a type v1
// conversion does not carry are refused.
const causeUnsupportedType = "unsupported_type"

// Report describes the Ingestor's counters under Loggregator's names:
// ingress (v1 envelopes converted and written into the buffer, one per v1
// envelope), rejected{cause} (v1 envelopes refused: malformed,
// unsupported_type, closed), rejected_streams (streams refused
// after Shutdown or Close) and the gauge streams (Pusher streams open).
//
// The buffer's drops are not reported here: an Ingestor shares its buffer
// with an ingress.Server, whose Report already counts them as
// dropped{direction=ingress}; reporting them twice would double them.
func (i *Ingestor) Report(emit func(stats.Metric)) {
	st := i.Stats()
	emit(stats.CounterOf(stats.Ingress, stats.HelpIngress, st.Converted.Total()))
	for _, r := range []struct {
		cause string
		n     uint64
	}{
		{stats.CauseMalformed, st.Refused.Malformed},
		{causeUnsupportedType, st.Refused.UnsupportedType},
		{stats.CauseClosed, st.Refused.Closed},
	} {
		emit(stats.CounterOf("rejected", "v1 envelopes the v1 Ingestor refused, by cause.",
			r.n, stats.Tag{Key: stats.TagCause, Value: r.cause}))
	}
	emit(stats.CounterOf(stats.RejectedStreams, stats.HelpRejectedStreams, st.RejectedStreams))
	emit(stats.GaugeOf(stats.Streams, stats.HelpStreams, float64(st.OpenStreams)))
}
