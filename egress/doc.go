// Package egress is where envelopes leave a component. It has two sides,
// each its own package, which do not import each other:
//
//   - egress/forward, the agent's way out: a Pool of streams to routers
//     (round robin, local zone first), the Forwarder that batches a buffer
//     into the Pool, and a Fanout that copies one buffer into several.
//   - egress/serve, the router's side: the subscription Router keyed by
//     shard ID, the loggregator.v2.Egress gRPC Server and the HTTP/SSE
//     Gateway.
//
// A program that only sends (an agent) imports forward; one that only
// serves subscribers (a router, or a proxy fed by a nozzle) imports serve.
// Neither compiles the other.
package egress
