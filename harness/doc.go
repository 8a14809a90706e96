// Package harness wires sluice's components into real topologies over
// loopback gRPC, for demos, end-to-end tests and `go test -bench` studies of
// where envelopes drop.
//
// # Parts
//
// StartRouter runs a router (Ingress and Egress on one gRPC address, an
// ingress diode, serve.Router, serve.Server, optionally the gateway).
// StartAgent runs an agent (ingress.Server, diode, forward.Forwarder,
// forward.Pool over a discovery source). StartProxy runs a proxy (an
// serve.Server and gateway fed by a nozzle.Firehose per subscriber).
//
// # Topologies and accounting
//
// StartTopology runs an all-in-one firehose (what examples/firehose shows)
// and Report closes its books per shard group: every envelope sent is
// delivered, counted dropped by the hop that dropped it (with the cause), or
// lost inside a stream that broke, which the report measures by comparing
// the two ends of each stream hop.
//
// # Benchmarks
//
// StartPipeline and StartBaseline are the two sides of the end-to-end
// benchmarks in this package:
//
//	go test -run '^$' -bench 'Pipeline|GRPCBaseline' -benchmem ./harness
//
// BenchmarkPipeline sends batches through an agent and a router to a
// subscriber (two hops, on wire bytes); BenchmarkGRPCBaseline sends the same
// batches with the same client over one hop to a server written with
// grpc-go and protobuf alone, which unmarshals them. Both report env/s and
// dropped/s.
package harness
