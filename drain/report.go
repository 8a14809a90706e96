package drain

import (
	"maps"
	"slices"

	"github.com/sluicelog/sluice/stats"
)

var _ stats.Reporter = (*Manager)(nil)

// Causes under which Report counts a drain's drops (Drops' fields).
const (
	causeWrite  = "write_failed"
	causeFormat = "unformattable"
)

// Stats returns the drops as a stats.Drops: Buffer under "overflow", Write
// under "write_failed", Format under "unformattable", Closed under
// "closed".
func (d Drops) Stats() stats.Drops {
	var s stats.Drops
	for cause, n := range map[string]uint64{stats.CauseOverflow: d.Buffer, causeWrite: d.Write, causeFormat: d.Format, stats.CauseClosed: d.Closed} {
		if n > 0 {
			s.Add(cause, n)
		}
	}
	return s
}

// Report describes the Manager's counters, summed over every drain it ran:
// ingress (envelopes published), unbound and filtered, dropped{direction=
// ingress,cause=malformed}, egress (envelopes delivered to drains),
// dropped{direction=egress,cause} (overflow, write_failed, unformattable,
// closed), messages, loss_reports, rejected_bindings{cause}, and the
// gauges drains and drain_connections. Per-drain counts are in Stats: a
// series per drain would grow with the bindings.
func (m *Manager) Report(emit func(stats.Metric)) {
	st := m.Stats()
	emit(stats.CounterOf(stats.Ingress, stats.HelpIngress, st.Ingress))
	emit(stats.CounterOf("unbound", "Envelopes whose source has no drain.", st.Unbound))
	emit(stats.CounterOf("filtered", "Envelopes whose source's drains do not want their kind.", st.Filtered))
	stats.ReportDropped(emit, stats.DirectionIngress, stats.Drops{stats.CauseMalformed: st.Malformed}, []string{stats.CauseMalformed})
	emit(stats.CounterOf(stats.Egress, stats.HelpEgress, st.Total.Sent))
	stats.ReportDropped(emit, stats.DirectionEgress, st.Total.Dropped.Stats(), []string{stats.CauseOverflow, causeWrite})
	emit(stats.CounterOf("messages", "Syslog messages delivered to drains (a gauge envelope with several metrics is several).", st.Total.Messages))
	emit(stats.CounterOf("loss_reports", "Messages telling a drain's owner how many envelopes the drain lost.", st.LossReports))
	for _, cause := range slices.Sorted(maps.Keys(st.Refused)) {
		emit(stats.CounterOf("rejected_bindings", "Bindings refused, by cause.", st.Refused[cause], stats.Tag{Key: stats.TagCause, Value: cause}))
	}
	connected := 0
	for _, d := range st.Drains {
		if d.Connected {
			connected++
		}
	}
	emit(stats.GaugeOf("drains", "Drains running now.", float64(len(st.Drains))))
	emit(stats.GaugeOf("drain_connections", "Drains with an open connection now.", float64(connected)))
}
