package stats

import "slices"

// Loggregator's metric names, which operators' dashboards and alerts already
// query, and the help text every component reports them with. One name keeps
// one help text and one Kind across components, so that a Prometheus
// registry sees a single consistent family for each.
const (
	// Ingress counts envelopes a component took in: sluice counts v2
	// envelopes, one per envelope (Loggregator's router counts after
	// converting to v1, so a v2 event counts 0 there and a gauge with two
	// metrics 2; see docs/architecture.md, "Telemetry names").
	Ingress = "ingress"
	// Egress counts envelopes a component handed on.
	Egress = "egress"
	// Dropped counts envelopes lost, tagged with direction and cause (and
	// shard_id on the egress side where the component knows it).
	Dropped = "dropped"
	// Subscriptions is the gauge of open subscriptions.
	Subscriptions = "subscriptions"
	// RejectedStreams counts streams and requests refused.
	RejectedStreams = "rejected_streams"
	// DopplerConnections is the gauge of streams open to routers.
	DopplerConnections = "doppler_connections"
	// SlowConsumer counts the times a consumer fell behind and lost
	// envelopes.
	SlowConsumer = "slow_consumer"

	// sluice's own names shared by several components.

	// Streams is the gauge of streams (or calls) a server has open.
	Streams = "streams"
	// Unconfirmed counts envelopes sent on a stream that broke before the
	// receiver confirmed them.
	Unconfirmed = "unconfirmed"
	// Reconnects counts streams opened again after one broke.
	Reconnects = "reconnects"
	// Buffered is the gauge of envelopes waiting in a buffer.
	Buffered = "buffered"
	// Routed counts envelopes a router handed to at least one subscription.
	Routed = "routed"
	// Unrouted counts envelopes a router took in that matched no
	// subscription: nobody asked for them (not a drop). A router's books
	// close as ingress == routed + unrouted.
	Unrouted = "unrouted"
)

// Help texts of the shared names.
const (
	HelpIngress            = "Envelopes the component took in."
	HelpEgress             = "Envelopes the component handed on."
	HelpDropped            = "Envelopes the component lost, by direction and cause (and shard_id where known)."
	HelpSubscriptions      = "Subscriptions open now."
	HelpRejectedStreams    = "Streams and requests the component refused."
	HelpDopplerConnections = "Streams open now to routers."
	HelpSlowConsumer       = "Times a consumer fell behind and lost envelopes."
	HelpStreams            = "Streams open now."
	HelpUnconfirmed        = "Envelopes sent on a stream that broke before the receiver confirmed them: lost or not, nobody knows."
	HelpReconnects         = "Streams opened again after one broke or could not be opened."
	HelpBuffered           = "Envelopes waiting in the component's buffer now."
	HelpRouted             = "Envelopes handed to at least one subscription."
	HelpUnrouted           = "Envelopes that matched no subscription (nobody asked for them)."
)

// Tag keys and the values of direction.
const (
	// TagDirection is "ingress" or "egress": which side of a hop dropped.
	TagDirection = "direction"
	// TagCause says why an envelope was dropped or refused.
	TagCause = "cause"
	// TagShardID is the shard ID of the subscription group that lost
	// envelopes.
	TagShardID = "shard_id"

	DirectionIngress = "ingress"
	DirectionEgress  = "egress"
)

// CounterOf returns a counter Metric of v.
func CounterOf(name, help string, v uint64, tags ...Tag) Metric {
	return Metric{Name: name, Kind: Counter, Help: help, Tags: tags, Value: float64(v)}
}

// GaugeOf returns a gauge Metric of v.
func GaugeOf(name, help string, v float64, tags ...Tag) Metric {
	return Metric{Name: name, Kind: Gauge, Help: help, Tags: tags, Value: v}
}

// ReportDropped emits one dropped counter per cause tagged with direction,
// the extra tags given (shard_id...) and cause, in cause order: every cause
// of d with a non-zero count, and each cause of always even at 0 (the
// causes a dashboard should see from the start).
func ReportDropped(emit func(Metric), direction string, d Drops, always []string, tags ...Tag) {
	causes := d.Causes()
	for _, c := range always {
		if d[c] == 0 {
			causes = append(causes, c)
		}
	}
	slices.Sort(causes)
	causes = slices.Compact(causes)
	for _, c := range causes {
		t := make([]Tag, 0, len(tags)+2)
		t = append(t, Tag{TagDirection, direction})
		t = append(t, tags...)
		t = append(t, Tag{TagCause, c})
		emit(CounterOf(Dropped, HelpDropped, d[c], t...))
	}
}
