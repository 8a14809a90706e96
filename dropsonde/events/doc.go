// Package events holds the dropsonde v1 event types (proto package events):
// Envelope and the six event messages it carries (LogMessage, ValueMetric,
// CounterEvent, ContainerMetric, Error, HttpStartStop), wire-compatible with
// Loggregator's sonde-go.
//
// The Go code is generated from events.proto in this directory (proto2, so
// scalar fields are pointers; use proto.String, proto.Int64 and friends to
// set them). Regenerate with `go generate ./dropsonde/events`.
//
// # Coexistence with sonde-go
//
// sonde-go registers the same events.* names with protobuf. This package
// registers its descriptors in the package-local registries returned by
// Files and Types instead of the global ones, so a program can link both
// without a registration conflict. Convert between the two sets of Go types
// through wire bytes.
//
// Conversion to and from Loggregator's v2 envelopes lives in package
// dropsonde.
package events
