// Package metrics composes the /metrics sources of the example programs
// from package telemetry's adapters: each component's metrics are tagged
// with part (ingress_server, router, egress_server, gateway, forwarder, pool,
// firehose, reader), so that a program made of several components keeps
// their ingress, egress and dropped series apart.
package metrics
