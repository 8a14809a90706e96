// Package ingress is where envelopes enter sluice: a loggregator.v2.Ingress
// gRPC server that writes what it receives into a buffer, and the client
// that emitting programs use to send to it (or to a Loggregator agent).
package ingress
