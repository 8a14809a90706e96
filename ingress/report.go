package ingress

import "github.com/sluicelog/sluice/stats"

var (
	_ stats.Reporter = (*Server)(nil)
	_ stats.Reporter = (*Client)(nil)
)

// Report describes the Server's counters under Loggregator's names:
// ingress (envelopes accepted), dropped{direction=ingress,cause=overflow}
// (its buffer's drops), rejected{cause} (messages refused), the gauge
// streams, tls_handshake_failures{cause}, the gauge connections,
// refused_connections, and ingress_waits, ingress_wait_timeouts,
// ingress_wait_cancels and ingress_wait_seconds (WithWaitWhenFull).
func (s *Server) Report(emit func(stats.Metric)) {
	st := s.Stats()
	emit(stats.CounterOf(stats.Ingress, stats.HelpIngress, st.Ingress))
	stats.ReportDropped(emit, stats.DirectionIngress, st.Dropped, []string{stats.CauseOverflow})
	for _, r := range []struct {
		cause string
		n     uint64
	}{
		{stats.CauseMalformed, st.Rejected.Malformed},
		{stats.CauseTooLarge, st.Rejected.TooLarge},
		{stats.CauseClosed, st.Rejected.Closed},
	} {
		emit(stats.CounterOf("rejected", "Messages (batches or single envelopes) the Ingress server refused whole, by cause.",
			r.n, stats.Tag{Key: stats.TagCause, Value: r.cause}))
	}
	emit(stats.GaugeOf(stats.Streams, stats.HelpStreams, float64(st.OpenStreams)))
	s.tlsWatch.Report(emit)
	s.conns.Report(emit)
	reportWaits(emit, st)
}

// Report describes the Client's counters: ingress (envelopes handed to
// Emit and EmitBytes), egress (sent), dropped{direction=ingress,cause}
// (overflow always, other causes once they occur), unconfirmed, retried,
// reconnects and tls_handshake_failures{cause}.
func (c *Client) Report(emit func(stats.Metric)) {
	st := c.Stats()
	emit(stats.CounterOf(stats.Ingress, stats.HelpIngress, st.Emitted))
	emit(stats.CounterOf(stats.Egress, stats.HelpEgress, st.Sent))
	stats.ReportDropped(emit, stats.DirectionIngress, st.Dropped, []string{stats.CauseOverflow})
	emit(stats.CounterOf(stats.Unconfirmed, stats.HelpUnconfirmed, st.Unconfirmed))
	emit(stats.CounterOf("retried", "Envelopes whose batch was tried a second time.", st.Retried))
	emit(stats.CounterOf(stats.Reconnects, stats.HelpReconnects, st.Reconnects))
	c.tlsWatch.Report(emit)
}
