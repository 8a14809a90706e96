// Package forward is the agent's way out: a Forwarder batches envelopes
// (wire bytes) from a buffer into a Pool, which keeps a few streams to
// routers (local zone first) and spreads the batches over them, and a Fanout
// copies one buffer into several, as Loggregator's forwarder agent does.
//
// # Composition
//
// An agent is an ingress.Server writing into a diode, a Forwarder reading
// that diode, and a Pool sending to routers found by a discovery.Source:
//
//	ingress.Server -> diode -> Forwarder -> Pool -> routers
//
// Shut it down in the order the envelopes flow: stop accepting (the ingress
// server's Shutdown), let the Forwarder drain the diode (cancel its Run
// context and wait for Run to return), then Shutdown the Pool, which closes
// its streams gracefully so the routers confirm what they carried. See the
// package Example and examples/agent.
//
// # Accounting
//
// Every envelope the Forwarder reads ends in exactly one of its counters:
// egress (the Pool sent it, or in acknowledged mode a router confirmed it)
// or dropped, by cause (CauseNoRouters, CauseUnreachable,
// CauseSendFailed, CauseClosed, CauseTooLarge, CauseShutdown). In streaming
// mode, what a broken stream carried last is also counted as unconfirmed
// (PoolStats.Unconfirmed): see the Pool type.
//
// # TLS failures
//
// A Pool whose TLS settings do not match its routers' says so: each failed
// handshake is counted by cause (PoolStats.TLSFailures,
// tls_handshake_failures) and logged at warn once per router per episode
// in plain words, e.g. "TLS handshake with router 10.0.0.5:8082 failed: it
// presented a certificate not signed by our CA", or, for a plaintext pool
// whose router speaks TLS (found by one TLS probe when the router closes
// the connection unheard), "router 10.0.0.5:8082 speaks TLS, but we dial
// it in plaintext". PoolStats.TLSFailing counts the routers whose last
// handshake failed; when that is every router, the pool logs it once.
//
// # Options
//
// PoolOption and ForwarderOption configure one component each; WithLogger
// configures both. Invalid arguments and options are refused with an error
// wrapping ErrInvalidConfig.
package forward
