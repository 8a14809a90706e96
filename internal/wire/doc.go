// Package wire is the seam where sluice's gRPC services carry envelope wire
// bytes instead of decoded messages: a grpc codec that passes raw Batch and
// Envelope values through untouched, hands over the buffer of a Message
// written in place (and passes everything else to protobuf), and
// service descriptors on Loggregator's method paths whose handlers receive
// and send those raw values.
package wire
