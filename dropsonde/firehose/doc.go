// Package firehose serves Loggregator's v1 websocket firehose, as its
// traffic controller does, from any serve.Subscriber (a router's
// serve.Router, or a proxy's fan-in):
//
//   - GET /firehose/{subscription_id}: every envelope. The subscription ID
//     is the shard ID: clients with the same ID share the stream (each
//     envelope goes to one of them), different IDs each get all of it.
//   - GET /apps/{source_id}/stream: the envelopes of one source ID; every
//     client gets all of them.
//
// Each v2 envelope is converted with dropsonde.FromV2 (use_preferred_tags
// asked) and each resulting dropsonde events.Envelope is sent, marshaled,
// as one binary websocket message. v2 events, which v1 cannot carry, are
// not asked for; an envelope FromV2 gives nothing for is skipped and
// counted (Stats.Skipped).
//
// # Slow consumers and keepalive
//
// A message that cannot be written within the slow consumer timeout (5 s,
// the traffic controller's) closes the stream; it counts as slow_consumer
// and the message as dropped. Pings go out every 30 s; a client that has
// gone away ends its stream.
//
// # Authorization
//
// WithAuthorizer takes the same hook as the gateway (serve.AuthorizeFunc):
// for /firehose it gets no source ID (the whole firehose: an admin grant),
// for an app stream its source ID. Refused requests get 403.
//
// The package lives apart from egress/serve so that programs without v1
// consumers do not compile the websocket library.
package firehose
