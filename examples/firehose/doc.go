// Command firehose runs a whole sluice firehose in one process, over
// loopback with mutual TLS: load generators, agents in two zones, routers
// registered in an in-process discovery source, a proxy, and nozzles in
// shard groups. It shows rates and drops per hop while it runs, then prints
// the accounting of every hop and exits non-zero if the books do not close.
//
//	go run ./examples/firehose -duration 5s
//
// With -noisy one more source sends many times the rate of the others; the
// live view and the final ledger show the heavy hitters (the sources that
// sent and lost the most) of the agents' and routers' ingress buffers,
// which are fair by default (-buffer-policy ring for Loggregator's diode).
package main
