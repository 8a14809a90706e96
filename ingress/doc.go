// Package ingress is where envelopes enter sluice: a loggregator.v2.Ingress
// gRPC server that writes what it receives into a buffer, and the client
// that emitting programs use to send to it (or to a Loggregator agent or
// router, which speak the same protocol).
//
// # Server
//
// NewServer takes the buffer (a diode.Buffer[[]byte]; a diode.ManyToOne
// when several streams write into it) and serves the three methods of
// loggregator.v2.Ingress: Sender (a stream of envelopes), BatchSender (a
// stream of batches, what agents use) and Send (one batch, acknowledged: it
// returns OK only once the batch is in the buffer). Envelopes are never
// decoded: a received batch is split into the wire bytes of its envelopes,
// each is validated (envelope.ReadRoute), and those bytes go into the
// buffer. A batch with one malformed envelope is refused whole with
// codes.InvalidArgument and a message naming the envelope's index; what
// the same stream delivered before stays in the buffer. The one exception
// to "never decode": an envelope with an empty source ID whose tags (or
// deprecated tags) carry "origin" gets that as its source ID, as
// Loggregator's agent does; only such envelopes are decoded and re-encoded
// (found by a scan of the top-level fields).
//
// Serve it with Start (":0" picks a port; Addr tells which) or Serve on a
// listener; or Register it on a grpc.Server shared with other services
// (created with GRPCServerOption, or better Server.GRPCServerOptions).
// Shutdown stops listening and refusing new streams while open streams
// finish what they send; Close cuts them. Both keep what was accepted.
//
// The source ID of each envelope, read while validating it (the filled one
// for an envelope filled from its origin tag), goes to the buffer with it
// when the buffer takes keys (diode.Keyed: package limit's Limiter, fair
// buffer and Buffer), a batch at a time (SetBatch), so that the buffer
// neither reads it from the wire bytes again nor takes its locks per
// envelope. A plain diode.Fair is given no keys: its key function is its
// own.
//
// # Limits and security
//
// WithTLS serves TLS; a tls.Config with ClientAuth set to
// tls.RequireAndVerifyClientCert makes it mutual, and a client without a
// certificate from the trusted CA cannot connect. WithMaxMessageSize
// (default 10 MiB) refuses larger messages with codes.ResourceExhausted,
// counted as rejected "too_large". grpc's own limit is set to twice the
// maximum so that the Server itself sees, refuses and counts what is just
// over; a unary Send more than twice over is refused by grpc before the
// Server sees it and is not counted (the sender still gets the status).
// WithKeepalive sets keepalive and WithMinPingInterval its enforcement:
// the Server pings silent connections every 15 s and drops peers that ping
// more often than every 5 s.
//
// # Client
//
// NewClient connects lazily to one address. Emit (an envelope) and
// EmitBytes (its wire bytes) never block: they write into a many-to-one
// diode (WithBufferSize, default 10,000), which one goroutine reads in
// batches of up to 100 envelopes or 100 ms (WithBatch) and writes to a
// BatchSender stream. Loggregator's Go client instead blocks Emit when its
// 100-slot queue is full, and drops a whole batch on a send error. Here a
// batch whose write fails is written again on a fresh stream (opened with
// exponential backoff and jitter, WithBackoff, for as long as it takes)
// before it is counted dropped; while the Client waits, the diode keeps the
// newest envelopes and counts what it overwrites. Shutdown(ctx) drains the
// diode, sends what it holds, closes the stream and waits for the server's
// answer, giving up when ctx ends; Close stops at once, counting what the
// Client held as dropped ("closed"). Both return once the Client's
// goroutines have ended.
//
// # Accounting
//
// Every envelope is counted once Shutdown or Close has returned:
//
//	Emitted == Sent + Dropped.Total()    (Dropped by cause: overflow, send, closed, marshal, malformed, shutdown)
//	Sent    == Confirmed + Unconfirmed
//
// A BatchSender stream carries no acknowledgement: a write that returns
// nil only means grpc took the batch. The server's answer when the stream
// is closed confirms everything written on it, so the Client closes its
// stream every 100 batches (WithConfirmEvery) and counts those envelopes
// Confirmed. When a stream breaks instead (the server went away, or
// refused a batch: the Client only learns it at its next write), what was
// written on it is counted Unconfirmed: the server may have all, some or
// none of it. So the envelopes lost without a count are at most
// Unconfirmed, itself at most WithConfirmEvery batches per broken stream;
// the receiver holds at least Confirmed and at most Sent.
//
// WithAcknowledged sends each batch with the unary Send instead: a batch
// counts Sent and Confirmed only when the server says it has it, a failed
// call is retried once and then counted dropped ("send"), and nothing is
// unconfirmed. A call whose answer was lost may deliver a batch the Client
// counts dropped, or deliver it twice after the retry. It costs a round
// trip per batch with one batch in flight; pick it when exact counts matter
// more than throughput (forward.Pool offers a pipelined acknowledged mode
// between agents and routers).
//
// # Telemetry
//
// Server.Stats reports Ingress (counter `ingress`), the buffer's Dropped
// (counter `dropped{direction=ingress}`, a stats.Drops with the one cause a
// buffer has, overflow), rejected messages by cause and open streams;
// Client.Stats the counts above (Dropped as a stats.Drops by the Cause
// constants), streams and reconnects.
//
// # Errors
//
// NewServer and NewClient wrap ErrInvalidConfig for any argument or option
// they cannot use. Serve and Start return ErrServerClosed after the Server
// stopped; Shutdown returns ErrClientClosed after Close stopped the Client.
package ingress
