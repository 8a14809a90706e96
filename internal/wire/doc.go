// Package wire is the seam where sluice's gRPC services carry envelope wire
// bytes instead of decoded messages: a grpc codec that passes raw Batch and
// Envelope values through untouched (and everything else to protobuf), and
// service descriptors on Loggregator's method paths whose handlers receive
// and send those raw values.
package wire
