// Package telemetry carries sluice's own health to operators, from any
// component that implements stats.Reporter, without knowing the
// components: the user names each one (Component{Name, Reporter}) and the
// name becomes the component label of its series. Components report under
// the names operators already query for Loggregator: counters ingress,
// egress and dropped (tags direction, cause, and shard_id for egress drops
// where known), gauge subscriptions, rejected_streams, doppler_connections,
// slow_consumer. Each series is keyed by (component, name, tags), so an
// ingress server and the router behind it, both counting ingress, make two
// series that never mix.
//
// # Prometheus
//
// A Collector is a prometheus.Collector: register it in your own
// prometheus.Registry and serve that with promhttp. Names are made valid
// Prometheus names, every family has a HELP line, and a collection never
// holds the same series twice (what would be left out is counted in
// sluice_telemetry_dropped_series and logged). Only this package imports
// client_golang; the components know nothing of Prometheus.
//
// # Envelopes into the firehose
//
// An Emitter reads its components every interval and writes one envelope
// per series into a Sink: a diode an agent forwards, or an ingress.Client
// (SinkFunc(client.EmitBytes)) that sends to an agent, as Loggregator's
// router sends its counters with source ID "doppler". A counter becomes a
// Counter envelope with its total and the delta since its previous
// emission (0 while idle; the new total after a component restarted); a
// gauge becomes a Gauge envelope.
//
// # Buffers
//
// Buffer reports a diode buffer's own drops for buffers that no component
// reports.
package telemetry
