// Package egresstest provides a loggregator.v2.Egress server for tests, as
// net/http/httptest provides an HTTP server: real gRPC on a loopback port,
// plaintext or TLS, that plays envelopes to its subscribers on Receiver and
// BatchedReceiver and records every subscription request it gets.
//
// It stands in for a router (or a proxy) when testing a consumer: a
// nozzle.Reader or Firehose, a stock generated Loggregator client, a proxy
// under test. Envelopes come from WithEnvelopes (played to every
// subscription as it opens) or from Publish and PublishBytes (sent to the
// subscriptions open at the call, which returns once each has taken them).
//
// # What it honours
//
// Requests are validated as Loggregator validates them (no selectors, or a
// selector without a message type, is answered InvalidArgument) and
// recorded as they came (Requests: shard ID, selectors, use_preferred_tags,
// deterministic name). Each subscription gets the envelopes its selectors
// match, by source ID, type, counter name and gauge names. It does not
// split shard groups (every subscription gets a copy) and does not rewrite
// tags for use_preferred_tags: envelopes travel as the bytes given. Test
// those rules against serve.Router and serve.Server themselves.
//
// # Faults
//
// EndStreams ends the open streams (OK or with an error), WithEndAfterPlay
// ends each stream after its played envelopes, Refuse answers new
// subscriptions with an error, Stall holds what streams would send while
// they stay open, Crash drops every connection and Restart serves again on
// the same address, ResetConnections resets the TCP connections.
package egresstest
