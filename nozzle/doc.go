// Package nozzle holds the consumers of the firehose: a Reader of one Egress
// server, a Firehose that fans in from every router a discovery source
// knows, and a GatewayReader of the HTTP gateway's server-sent events.
//
// # Choosing Reader, Firehose or GatewayReader
//
// Reader subscribes to one loggregator.v2.Egress server over gRPC
// (BatchedReceiver). Use it against a proxy (a reverse log proxy, sluice's or
// Loggregator's), or against a single router.
//
// Firehose is the reverse log proxy's job as a library part. Agents spread
// their envelopes over several routers, so a nozzle instance that wants every
// envelope it selects must subscribe to every router: a Firehose opens one
// Reader-like stream per router that its discovery.Source lists, all with the
// same request (shard ID, selectors, deterministic name), and merges them into
// one buffer. Routers that appear are subscribed at once, routers that leave
// are dropped, and a source in trouble (State.Err set) never tears a stream
// down: the last good set stays subscribed. Several nozzle instances that use
// the same shard ID form one group at every router, so the group together
// receives each envelope once; each other shard ID receives its own copy.
//
// GatewayReader reads GET /v2/read, the HTTP/SSE face of a proxy, for
// consumers outside the network where only HTTP(S) passes. It hands out
// decoded envelopes in the server's order: it decodes each batch on the one
// goroutine that reads the stream (Loggregator's client decodes batches on
// many goroutines and reorders them). GatewayQuery shows how a request becomes
// the gateway's query.
//
// All three reconnect with exponential backoff and jitter (from 50 ms, where
// Loggregator's client retries every 50 ms forever, up to 5 s; WithBackoff)
// until Close or Shutdown, take WithTLS for TLS and mutual TLS, and report
// Stats. A Reader or Firehose whose TLS settings do not match a router's
// (a GatewayReader's, the gateway's) says so once at warn, in plain words
// ("nozzle: TLS handshake with router X failed: it presented a certificate
// not signed by our CA", or that a router dialed in plaintext speaks TLS),
// and counts it by cause (Stats.TLSFailures).
//
// # Delivering envelopes: an iterator, and raw reads
//
// Envelopes(ctx) returns an iter.Seq2[*envelope.Envelope, error] for a range
// loop:
//
//	for e, err := range r.Envelopes(ctx) {
//		if sc, ok := errors.AsType[*nozzle.SlowConsumerError](err); ok {
//			log.Printf("fell behind: %v", sc) // keep ranging
//			continue
//		}
//		if err != nil {
//			return err // ctx ended
//		}
//		handle(e)
//	}
//
// An iterator fits a consumer best. It is a pull API: the consumer's pace is
// the pace at which the buffer is read, which is exactly what slow-consumer
// detection measures. The loop runs on the caller's goroutine, so the user
// owns no goroutine and no channel that must be drained or closed; break
// leaves the consumer running for the next loop. Errors arrive in-band: a
// slow-consumer signal is yielded at the place in the stream where envelopes
// went missing, before the next envelope, and the loop goes on. A channel
// would need a second channel (or a wrapper type) for that signal and a
// goroutine to feed it; a callback would run user code on a stream goroutine,
// where a slow handler is indistinguishable from a slow network.
//
// The loop ends quietly after Close, or after Shutdown once the consumer has
// drained the buffer; when ctx ends it yields ctx.Err() last.
//
// Next(ctx) and TryNext() give the same stream as envelope wire bytes (a
// marshaled loggregator.v2.Envelope each, safe to keep), without decoding: the
// raw path for proxies and for consumers that read only a few fields
// (envelope.ReadRoute). Next, TryNext and the iterator are one consumer: use
// one goroutine at a time.
//
// # Slow consumers
//
// Between the streams and the consumer sits a bounded channel buffer
// (diode.Channel, default 10,000 envelopes like the reverse log proxy's;
// WithBufferSize). A consumer slower than the stream never pushes back on a
// router: when the buffer is full, new envelopes are dropped and counted
// (Stats.Dropped[CauseOverflow]), and the consumer is told once per episode:
//
//   - WithSlowConsumer's callback runs at once, on the stream goroutine that
//     found the buffer full, even while the consumer is stuck: log it,
//     alert, or scale out (add a nozzle instance with the same shard ID);
//   - the iterator yields a *SlowConsumerError (errors.Is(err,
//     ErrSlowConsumer)) before the next envelope.
//
// An episode ends when the consumer catches up, that is finds the buffer
// empty; the next drop starts a new episode (Stats.SlowConsumerEpisodes).
// Counts are exact: once the streams stop, Received == Delivered +
// Dropped.Total(), Dropped[CauseShutdown] being what Close or an expired
// Shutdown left in the buffer.
//
// What a Reader cannot see is what its router dropped for it: a subscriber
// that falls behind the router's per-subscription buffer loses envelopes
// there, counted by the router under the subscriber's shard ID. A consumer
// that keeps its own buffer drained keeps the router's buffer drained too.
//
// # Building a proxy
//
// A proxy (Loggregator's reverse log proxy) is an serve.Server whose
// subscriptions come from a Firehose per downstream subscriber.
// FirehoseSubscriber returns a function shaped like serve.SubscriberFunc
// that does that: each subscriber's request (its shard ID and selectors) is
// passed on to every router, and its Firehose is closed when the subscriber's
// stream ends.
//
//	srv, err := serve.NewServer(serve.SubscriberFunc(
//		nozzle.FirehoseSubscriber(routers, nozzle.WithTLS(clientTLS))))
//
// No adapter is needed although nozzle does not import egress: nozzle's
// Subscription and egress's are aliases of one interface type, so the
// function FirehoseSubscriber returns converts to serve.SubscriberFunc as
// it is. An serve.Gateway fed the same way serves the proxy over HTTP.
package nozzle
