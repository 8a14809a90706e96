package forward

import (
	"maps"
	"slices"

	"github.com/sluicelog/sluice/stats"
)

const helpRead = "Envelopes read from the component's buffer."

var (
	_ stats.Reporter = (*Pool)(nil)
	_ stats.Reporter = (*Forwarder)(nil)
	_ stats.Reporter = (*Fanout)(nil)
)

// Report describes the Pool's counters: egress (envelopes sent, or
// confirmed in acknowledged mode), dropped{direction=egress,cause} (causes
// that occurred), unconfirmed, retries and recycles, and the gauges
// doppler_connections, doppler_connections_by_zone{zone} (under its own name,
// so that summing doppler_connections counts each stream once), routers,
// no_routers, tls_handshake_failures{cause} and tls_failing_routers.
func (p *Pool) Report(emit func(stats.Metric)) {
	st := p.Stats()
	emit(stats.CounterOf(stats.Egress, stats.HelpEgress, st.Sent))
	stats.ReportDropped(emit, stats.DirectionEgress, st.Dropped, nil)
	emit(stats.CounterOf(stats.Unconfirmed, stats.HelpUnconfirmed, st.Unconfirmed))
	emit(stats.CounterOf("retries", "Batches tried again on another stream after a failure.", st.Retries))
	emit(stats.CounterOf("recycles", "Streams to routers closed on purpose (age, rebalancing, back to the local zone).", st.Recycles))
	emit(stats.CounterOf("ack_unsupported", "Routers that answered Send with Unimplemented and get streaming instead.", st.AckUnsupported))
	emit(stats.GaugeOf(stats.DopplerConnections, stats.HelpDopplerConnections, float64(st.Streams)))
	for _, zone := range slices.Sorted(maps.Keys(st.StreamsByZone)) {
		emit(stats.GaugeOf("doppler_connections_by_zone", "Streams open now to routers, by the routers' zone.",
			float64(st.StreamsByZone[zone]), stats.Tag{Key: "zone", Value: zone}))
	}
	emit(stats.GaugeOf("routers", "Routers discovery gives the pool now.", float64(st.Routers)))
	noRouters := 0.0
	if st.NoRouters {
		noRouters = 1
	}
	emit(stats.GaugeOf("no_routers", "1 while discovery knows no router (\"No dopplers listening\"), else 0.", noRouters))
	p.tlsWatch.Report(emit)
	emit(stats.GaugeOf("tls_failing_routers", "Routers whose last TLS handshake failed (all of them: nothing can be sent).", float64(st.TLSFailing)))
}

// Report describes the Forwarder's counters: read (envelopes read from its
// buffer), egress (sent by the destination), dropped{direction=egress,cause}
// (causes that occurred), batches, and the gauge pending.
func (f *Forwarder) Report(emit func(stats.Metric)) {
	st := f.Stats()
	emit(stats.CounterOf("read", helpRead, st.Read))
	emit(stats.CounterOf(stats.Egress, stats.HelpEgress, st.Egress))
	stats.ReportDropped(emit, stats.DirectionEgress, st.Dropped, nil)
	emit(stats.CounterOf("batches", "Batches handed to the destination.", st.Batches))
	emit(stats.GaugeOf("pending", "Envelopes handed to the destination that have no outcome yet.", float64(st.Pending)))
}

// Report describes the Fanout's counters: read, and per destination (tag
// destination) egress (copies set into its buffer) and
// dropped{direction=egress,cause=overflow} (copies its buffer lost).
func (f *Fanout) Report(emit func(stats.Metric)) {
	st := f.Stats()
	emit(stats.CounterOf("read", helpRead, st.Read))
	for _, name := range slices.Sorted(maps.Keys(st.Destinations)) {
		d := st.Destinations[name]
		dst := stats.Tag{Key: "destination", Value: name}
		emit(stats.CounterOf(stats.Egress, stats.HelpEgress, d.Written, dst))
		stats.ReportDropped(emit, stats.DirectionEgress, stats.Drops{stats.CauseOverflow: d.Dropped}, []string{stats.CauseOverflow}, dst)
	}
}
