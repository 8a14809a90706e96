// Package stats holds the shapes every sluice component reports its counters
// in, so that one adapter (package telemetry) can expose any of them without
// knowing the component.
//
// # Drops
//
// Every drop is counted where it happens, with its cause. A component's
// Stats snapshot reports its drops as a Drops value: envelopes by cause
// (and, where drops belong to a shard group, one Drops per shard ID). The
// causes in use are the Cause constants here; components document which they
// use.
//
// # Metrics
//
// A component that implements Reporter describes its counters and gauges as
// Metric values under Loggregator's names (ingress, egress, dropped with tag
// direction, subscriptions, ...), so that dashboards built on Loggregator's
// names work on sluice. Package telemetry turns Reporters into a Prometheus
// collector or into counter and gauge envelopes.
package stats
