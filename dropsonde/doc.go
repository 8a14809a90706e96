// Package dropsonde carries Loggregator's v1 (dropsonde) traffic in sluice:
// it converts v1 envelopes to v2 and back by Loggregator's rules, and serves
// the v1 ingress of Loggregator's router, /plumbing.DopplerIngestor/Pusher,
// into the same kind of buffer v2 ingress feeds.
//
// The v1 types live in the subpackages events (events.Envelope and its
// events) and plumbing (the v1 router's gRPC services), so programs that
// speak only v2 do not compile them.
//
// # Conversion
//
// ToV2 converts a v1 envelope to v2 as Loggregator's router does for v1
// ingress (go-loggregator's conversion with preferred tags); FromV2 converts
// a v2 envelope to the v1 envelopes a v1 firehose consumer gets (its ToV1).
// In short:
//
//	v1 LogMessage      <-> v2 log
//	v1 ValueMetric     <-> v2 gauge with one metric
//	v1 CounterEvent    <-> v2 counter
//	v1 ContainerMetric <-> v2 gauge with cpu, memory, disk, memory_quota, disk_quota
//	v1 HttpStartStop   <-> v2 timer
//	v1 Error            -> v2 log tagged __v1_type=Error (and back)
//	                       v2 event -> nothing
//
// A v2 gauge with several metrics (and not the five of a container) becomes
// one ValueMetric per metric. origin, deployment, job, index and ip travel
// as v2 tags; the v1 tags source_id and instance_id name the v2 source and
// instance where the event does not. The doc comments of ToV2 and FromV2
// give every rule, and where sluice differs from Loggregator (only where
// Loggregator would produce a v1 envelope that cannot be marshaled).
//
// Conversion is deterministic, so v1 and v2 round-trip: a v1 envelope with
// its optional fields and a source_id tag set comes back from v2 unchanged,
// and so does a v2 envelope that came from v1.
//
// # Wire bytes
//
// Decode reads and checks a v1 payload; PayloadToV2 turns it straight into
// v2 wire bytes. Both refuse bad input with an error wrapping ErrMalformed
// (not protobuf, required fields unset, the event missing, strings that are
// not UTF-8) or ErrUnsupportedType (event types v1 removed or never had),
// and never panic.
//
// # Ingress
//
// An Ingestor registers DopplerIngestor on a grpc.Server (alone, or beside
// an ingress.Server on one server and one buffer, so that a router takes v1
// and v2 agents alike), converts every v1 envelope and writes the v2 wire
// bytes into a diode.Buffer. Bad payloads are counted by cause in Stats and
// skipped, the stream goes on (Loggregator's router drops them the same
// way), and a warning is logged at most once per interval.
package dropsonde
