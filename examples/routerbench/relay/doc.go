// Relay is the floor under routerbench's figures: a gRPC server with the
// router's transport (mutual TLS with corked writes, a 128 KiB shared write
// buffer, the wire codec) that serves loggregator.v2 BatchSender and
// BatchedReceiver and does nothing else. Every message received is sent as
// it is to each shard ID's subscribers (a copy per shard ID, a share per
// subscriber of one): no validation, no routing, no tag rewrite, no diode,
// one channel between the streams. Whatever the router costs beyond what the
// relay costs at the same rate is the router's own work; what the relay
// costs, any router speaking v2 gRPC over TLS pays.
//
//	go build -o /tmp/relay ./examples/routerbench/relay
//	go run ./examples/routerbench -router /tmp/relay -rates 300000 -senders 4
//
// It answers routerbench's flags and /metrics (ingress, dropped, subscriptions)
// as the router does. Selectors are ignored. Its queue per shard ID is deep
// (50,000 envelopes by default): it measures cost, and a cost per envelope
// delivered says little when most are dropped. Every envelope it takes in
// is sent or counted dropped: at a full queue, in a send that failed, or
// left in the queue of a shard ID whose last subscriber left.
//
// It is a measuring tool, not a server to expose: beyond its queues and
// grpc-go's defaults (4 MiB messages) it bounds nothing a client sends,
// opens or holds, and it listens on loopback unless told otherwise.
package main
