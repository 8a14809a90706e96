// Package ingresstest provides a loggregator.v2.Ingress server for tests, as
// net/http/httptest provides an HTTP server: real gRPC on a loopback port,
// plaintext or TLS, that records every envelope it receives on Sender,
// BatchSender and Send, and counts each method's calls.
//
// Point the code under test (an ingress.Client, a forward.Pool, a stock
// generated Loggregator client) at Server.Addr, then wait for what it
// should have sent with WaitFor and check Envelopes, Raw or Counts.
//
// # Answering like Loggregator
//
// By default the server answers as sluice's ingress.Server: OK at the end of
// a stream and for Send. WithLoggregatorAnswers makes it answer as
// Loggregator's router does: the end of a stream with status Unknown and
// message "EOF", and Send with Unimplemented. Clients that must work with
// both are tested against both.
//
// # Faults
//
// Refuse answers calls with an error (for example a status with
// codes.Unavailable); Stall stops reading so that the client's
// flow-control window fills; Crash drops every connection at once and
// Restart serves again on the same address; ResetConnections resets the
// TCP connections while the server stays up. Malformed messages are
// answered InvalidArgument and counted as refused.
//
// The server decodes nothing on its hot path: it reads batches as wire
// bytes and splits them, so it keeps up with sluice's own senders in
// benchmarks (use WithCountOnly there).
package ingresstest
