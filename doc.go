// Package sluice is an embeddable library for envelope transport: the logs
// and metrics that programs emit, carried through agents and routers to the
// consumers (nozzles) that need them, as Cloud Foundry's Loggregator firehose
// does, and speaking Loggregator's v2 gRPC protocol so that sluice parts and
// Loggregator parts can sit side by side.
//
// sluice is a set of packages, not a daemon: compose them into your own
// agents, routers, proxies, nozzles and benchmark harnesses. Every envelope
// sluice drops is counted where it drops, with its cause.
//
// # Packages
//
//   - envelope: the Envelope types (Loggregator v2 wire contract),
//     constructors, selector matching, and a cheap read of routing fields
//     from wire bytes.
//   - diode: buffers that never block the writer (one-to-one and
//     many-to-one diodes, a channel buffer) with exact drop accounting.
//   - ingress: the loggregator.v2.Ingress server that feeds a buffer, and the
//     client emitting programs use.
//   - egress: the pool of streams from an agent to routers, the forwarder,
//     the subscription router keyed by shard ID, the loggregator.v2.Egress
//     server and the HTTP/SSE gateway.
//   - discovery: where routers are (static lists, DNS, etcd), with freshness.
//   - nozzle: consumers: a reader of one Egress server, a fan-in over every
//     router discovery knows, and a gateway (SSE) reader.
//   - telemetry: every component's stats under Loggregator's metric names,
//     emitted as envelopes into the firehose or served at /metrics.
//   - harness: real topologies over loopback for tests, demos and
//     benchmarks, with a report that closes the books of every hop.
//   - examples: runnable programs, among them an all-in-one demo firehose
//     (go run ./examples/firehose).
//
// The path of an envelope:
//
//	emitter -> [agent: ingress.Server -> diode -> forward.Forwarder -> forward.Pool]
//	        -> [router: ingress.Server -> diode -> serve.Router -> serve.Server]
//	        -> [proxy: nozzle.Firehose -> serve.Server or serve.Gateway] -> nozzle
package sluice
