// Package serve is the router's side of egress: the subscription Router
// keyed by shard ID, the loggregator.v2.Egress gRPC Server, and the HTTP/SSE
// Gateway. A proxy feeds a Server or a Gateway from a nozzle's firehose
// instead of a Router: anything that implements Subscriber will do.
//
// # Router
//
// A Router takes envelopes as wire bytes (Publish, or Run over a buffer) and
// routes them without decoding: envelope.ReadRoute (envelope.ReadRouteTrusted
// in Run, over envelopes validated when received) reads the source ID, kind
// and metric names, and the envelope's bytes travel on untouched. Each
// subscription has a shard ID, selectors, optionally a deterministic name,
// and its own buffer (a one-to-one diode of 1,000 envelopes by default, or a
// channel buffer; see WithSubscriptionDiode, WithSubscriptionChannel,
// WithSubscriptionBuffer). The delivery rules:
//
//   - Subscriptions with the same shard ID form a group: each envelope goes
//     to exactly one member, chosen round robin among the members whose
//     selectors match it.
//   - Different shard IDs each get a copy. An empty shard ID is a group of
//     one: that subscription gets every envelope its selectors match.
//   - When every member of a group has a deterministic name, the member is
//     chosen by a hash of the metric name (counter or timer name, the set of
//     gauge names) modulo the number of matching members, in the order of
//     their names: one metric always lands on the same member while the
//     group stays the same. Logs and events, which have no metric name, fall
//     back to round robin.
//   - Several selectors of one subscription that match one envelope deliver
//     it once (Loggregator may deliver it once per selector), also when one
//     names the source ID and another selects every source ID.
//   - A subscription leaves its group at once when it is closed or the
//     context it was made with ends (the stream that asked for it ended).
//     What it still held is discarded and counted as dropped.
//
// Publishing never waits for a subscriber. Routing state is copy-on-write:
// Publish looks the source ID up in a lock-free hash table (plus one list
// for selectors with an empty source ID) and allocates nothing;
// subscribing builds new state aside and publishes it atomically.
// Subscribing costs time linear in the request: its selectors are grouped
// by source ID before the router's lock is taken, and under the lock each
// source ID costs one entry. Requests are bounded (WithLimits): selectors,
// distinct source IDs and shard ID length per request (refused with an
// error wrapping ErrRequestTooLarge: InvalidArgument, HTTP 400), and shard
// groups open at once (ErrTooManyShards: ResourceExhausted, HTTP 429); each
// refusal is counted by cause in RouterStats.Refused.
// Router.Stats reports ingress, egress, dropped (direction=egress) per
// shard ID, the subscriptions gauge, rejected streams and malformed input.
//
// # Server
//
// A Server serves loggregator.v2.Egress (both Receiver and BatchedReceiver)
// from any Subscriber: a Router, or a proxy's fan-in over many routers.
// BatchedReceiver sends batches of at most 100 envelopes held at most
// 100 ms, flushed early when the subscription runs dry, assembled from wire
// bytes without re-encoding. Requests without selectors, or with a selector
// that names no message type, are answered InvalidArgument (the legacy
// selector counts only when selectors is empty); streams beyond the maximum
// (500 by default), or beyond WithMaxClientStreams of one client (100), are
// answered ResourceExhausted; connections beyond WithMaxConnections (1,000)
// on the listeners it serves itself are closed as they come. Failed TLS
// handshakes are counted by cause (ServerStats.TLSFailures) and logged at
// warn through its logger. A stream whose client reads nothing is evicted
// once a send has blocked for WithSendTimeout (10 s): it ends with
// DeadlineExceeded ("client is not reading"), is counted in
// ServerStats.Evicted, and the blocked send's envelopes are counted under
// its shard ID with cause write_timeout. TLS and mutual TLS via
// WithTLS. Serve or Start it, or Register it on a grpc.Server shared
// with other services (created with GRPCServerOption). Shutdown sends what
// the streams hold before ending them; Close ends them at once.
//
// # Tags
//
// A Server applies each subscriber's use_preferred_tags on the way out, as
// Loggregator's reverse log proxy does: true folds deprecated_tags into
// tags as strings and empties deprecated_tags; false (the proto default)
// moves every tag into deprecated_tags as a text value. The rewrite works on
// the wire bytes, without decoding: each envelope is written once, as it
// came or with its tags moved, straight into the message gRPC sends.
// WithTagsUnchanged sends tags as they came (Loggregator's router does).
//
// # Gateway
//
// A Gateway is an http.Handler for Loggregator's GET /v2/read, and answers
// as Loggregator's gateway does. The query parameters shard_id,
// deterministic_name, source_id (repeatable, each one source ID as given),
// log, counter, gauge, timer, event, counter.name (each one counter
// selector; a comma is part of the name) and gauge.name (each one gauge
// selector for the comma-separated names it lists) become a request's
// selectors, asking for preferred tags. The answer is a text/event-stream
// of `data: <EnvelopeBatch as protojson>` frames, every field present
// (EmitUnpopulated) under envelope.proto's JSON names (source_id,
// instance_id, deprecated_tags), an `event: heartbeat` frame when idle
// (every 15 s by default) and `event: closing` with `data: closing due to
// stream timeout` before the stream ends on its timeout. Errors are written
// with http.Error (text/plain), the body a JSON {"message": ...,
// "error": ...}: 400 for an empty query or no envelope type, 405 for
// another method than GET, 401 or 403 when the authorizer refuses (see
// Access), 429 ("too_many_streams") beyond WithMaxStreams open streams (500
// by default) or WithMaxClientStreams streams of one client (100). A client
// that reads nothing is evicted after WithWriteTimeout (10 s per frame); its
// lost frame is counted with cause write_timeout under its shard ID
// (GatewayStats.DroppedByShard), what its subscription held by the Router
// under the same shard ID. A query longer than WithMaxQueryBytes (8 KiB) is
// refused with 400 ("query_too_long") before it is parsed. WithStrictQuery refuses empty names and
// source IDs that Loggregator takes. The Gateway is the one place in this
// package that decodes envelopes: JSON needs them.
//
// # Access
//
// A Server and a Gateway ask one authz.Authorizer (WithAuthorizer) before
// each stream, with the caller's identity (verified client certificate,
// bearer token from the Authorization header or gRPC metadata) and what
// the request reads (source IDs, every source ID, shard ID). A refusal
// wrapping authz.ErrUnauthenticated is answered Unauthenticated / 401, one
// wrapping authz.ErrDenied PermissionDenied / 403, with the refusal's text;
// each is counted by cause in the Stats' Refused and in the series
// refused_requests{cause}. The default, authz.Open, allows everything: give
// anything listening beyond loopback a policy (authz.Policy binds shard IDs
// to identities, so that nobody joins another consumer's group).
//
// # Options
//
// Options that only one component takes have that component's option type
// (RouterOption, ServerOption, GatewayOption); WithMaxStreams and WithBatch
// apply to a Server and a Gateway alike, WithLogger to all three. Invalid
// arguments and options are refused with an error wrapping
// ErrInvalidConfig.
package serve
