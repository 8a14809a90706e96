// Package metrics carries an example program's own telemetry: its named
// components (telemetry.Component) served at /metrics through a Prometheus
// registry of the program's own, and, with an agent address, emitted every
// interval as counter and gauge envelopes to that agent through an
// ingress.Client, as Loggregator's router sends its counters (source ID
// "doppler") so that rate(ingress{source_id="doppler"}[5m]) sees it.
package metrics
