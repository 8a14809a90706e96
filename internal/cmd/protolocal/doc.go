// Command protolocal rewrites protoc-gen-go output so that the generated
// file and message descriptors register in package-local registries instead
// of protobuf's global ones. It runs from go:generate after buf.
//
// Why: Loggregator's own Go client registers the same loggregator.v2.* names
// globally, and protobuf panics at init on duplicate registrations. Keeping
// sluice's descriptors out of the global registry lets both link into one
// program while the message names, field numbers and gRPC method paths stay
// exactly Loggregator's.
//
// Usage: protolocal -files VAR -types VAR FILE.pb.go...
package main
