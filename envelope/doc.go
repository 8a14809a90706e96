// Package envelope holds sluice's envelope types, wire-compatible with
// Loggregator's v2 API, with constructors, selector matching and a cheap read
// of routing fields from wire bytes.
//
// # Types
//
// Envelope, Batch (EnvelopeBatch), the five message kinds (Log, Counter,
// Gauge, Timer, Event), the egress requests and Selector are generated from
// envelope.proto, ingress.proto and egress.proto in this directory, together
// with the gRPC stubs of the loggregator.v2.Ingress and loggregator.v2.Egress
// services (IngressClient, EgressServer, ...). Field numbers and method paths
// are Loggregator's, so sluice and Loggregator components talk to each other.
// Regenerate with `go generate ./envelope` (only Go and the module proxy are
// needed).
//
// Build envelopes with NewLog, NewCounter, NewGauge, NewTimer and NewEvent;
// they stamp the current time unless WithTimestamp says otherwise.
//
// # Wire bytes
//
// sluice moves envelopes as their marshaled bytes: decoding one costs about
// ten times more than reading what a router needs. ReadRoute reads the source
// ID, kind, and counter or gauge names of one marshaled Envelope without
// allocating, rejects exactly what proto.Unmarshal rejects (with an error
// wrapping ErrMalformed), and never panics. ReadRouteTrusted reads the same
// fields from bytes that were validated before (by ReadRoute, when they were
// received) at a fraction of the cost. SplitBatch and AppendBatch take
// an EnvelopeBatch apart and put one together from envelope bytes without
// re-encoding them.
//
// # Selectors
//
// Selector.Matches (decoded) and Selector.MatchesRoute (wire bytes) share one
// implementation. A source ID, when set, must be equal; the message type must
// be the envelope's kind; a counter selector's name, when set, must be equal;
// a gauge selector with names matches gauges that carry every one of those
// names (and possibly more), and with no names every gauge. Several
// selectors in one request match an envelope when any does, and sluice
// delivers such an envelope once. RequestSelectors validates a request as
// Loggregator does: no selectors is ErrNoSelectors, a selector without a
// message type is ErrSelectorWithoutMessage, and the legacy selector counts
// only when selectors is empty.
//
// # Coexistence with Loggregator's Go client
//
// A program can link sluice together with Loggregator's own Go packages
// (go-loggregator's loggregator_v2). Protobuf keeps a global registry of
// message names and panics at init when two packages register the same name;
// both packages define loggregator.v2.Envelope and friends. sluice's
// generated code registers its descriptors in package-local registries
// instead (see Files and Types), so nothing collides, while message names,
// field numbers and the gRPC method paths (/loggregator.v2.Ingress/...,
// /loggregator.v2.Egress/...) stay exactly Loggregator's. The two sets of Go
// types are distinct: convert between them through wire bytes
// (proto.Marshal one, proto.Unmarshal into the other), which is lossless
// since the wire format is the same. One thing does not work: looking up
// sluice's types by name in protoregistry.GlobalTypes (for example inside a
// google.protobuf.Any); use Types() as the resolver there.
package envelope
