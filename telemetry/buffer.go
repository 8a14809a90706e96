package telemetry

import (
	"github.com/sluicelog/sluice/diode"
	"github.com/sluicelog/sluice/stats"
)

// Buffer returns a Reporter of a diode buffer's own counters, for buffers
// that no component reports (diode imports nothing of sluice, so it has no
// Report method): dropped{direction,cause=overflow}, collisions (writes of a
// ManyToOne that met another writer) and the gauge buffered (written but
// neither read nor dropped). Name the buffer when adding it to a Collector
// or Emitter: Component{Name: "subscription_buffer", Reporter: Buffer(b,
// "egress")}.
func Buffer(b interface{ Stats() diode.Stats }, direction string) stats.Reporter {
	return stats.ReporterFunc(func(emit func(stats.Metric)) {
		st := b.Stats()
		stats.ReportDropped(emit, direction, stats.Drops{stats.CauseOverflow: st.Dropped}, []string{stats.CauseOverflow})
		emit(stats.CounterOf("collisions", "Writes that met another writer in their slot of a many-to-one diode.", st.Collisions))
		emit(stats.GaugeOf(stats.Buffered, stats.HelpBuffered, float64(st.Written-min(st.Written, st.Read+st.Dropped))))
	})
}
