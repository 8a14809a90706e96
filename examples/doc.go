// Package examples holds sluice's runnable programs, one folder each:
// firehose (the all-in-one demo, `go run ./examples/firehose`), and the
// programs that talk over the network: agent, router, proxy, nozzle and
// loadgen, with etcd (an embedded etcd for their -etcd flags) and devcerts
// (certificates for their TLS flags); lossstudy charts where drops start as
// load grows; routerbench measures the router program's CPU per envelope,
// loss and memory at offered rates. The router, agent and proxy compose sluice's packages in
// their own main.go. Its test builds the network programs and carries
// envelopes through them as real processes. Nothing imports this package.
package examples
