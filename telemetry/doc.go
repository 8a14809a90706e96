// Package telemetry carries sluice's own health: it turns every component's
// Stats into metrics with the names operators already query for Loggregator
// (counters ingress, egress and dropped with a direction tag; gauges
// subscriptions, doppler_connections...), emits them as Loggregator-style
// counter and gauge envelopes into a buffer of the user's choice, and serves
// them in the Prometheus text format.
//
// # Emitting into the firehose
//
// An Emitter reads a Source every interval and writes one envelope per
// series: a Counter envelope with the delta since the last emission and the
// running total, or a Gauge envelope, stamped with the source ID the user
// sets (Loggregator's routers use "doppler"). Point its sink at an agent's
// ingress buffer and the firehose carries its own health.
//
// # Prometheus
//
// Handler serves the same metrics at /metrics for scraping.
package telemetry
