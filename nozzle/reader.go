package nozzle

import (
	"context"
	"iter"

	"google.golang.org/protobuf/proto"

	"github.com/sluicelog/sluice/envelope"
)

// Reader subscribes to one Egress server (a router, or a proxy) over
// BatchedReceiver and hands the envelopes to one consumer through a bounded
// buffer. It re-opens a failed stream with exponential backoff and jitter
// until Close or Shutdown.
//
// A Reader is safe for concurrent use, except that Next, TryNext and the
// iterator are one consumer: call them from one goroutine at a time.
type Reader struct {
	cfg    config
	out    *outlet[[]byte]
	stream *grpcStream
}

// NewReader starts a Reader subscribed to the Egress server at addr
// ("host:port") with req: its shard ID, selectors and deterministic name
// (req is copied). It returns an error wrapping ErrInvalidConfig for an
// empty address or a request that asks for nothing (envelope.ErrNoSelectors,
// envelope.ErrSelectorWithoutMessage).
//
// It reads WithTLS, WithLogger, WithBufferSize, WithBackoff,
// WithSlowConsumer and WithKeepalive.
func NewReader(addr string, req *envelope.EgressBatchRequest, opts ...ReaderOption) (*Reader, error) {
	cfg, err := buildConfig(opts, ReaderOption.applyReader)
	if err != nil {
		return nil, err
	}
	if addr == "" {
		return nil, invalid("empty address")
	}
	req, err = checkRequest(req)
	if err != nil {
		return nil, err
	}
	out, err := newOutlet[[]byte](cfg.bufferSize, cfg.onSlow, cfg.wireBytes())
	if err != nil {
		return nil, err
	}
	r := &Reader{cfg: cfg, out: out}
	r.stream, err = newGRPCStream(addr, addr, req, &r.cfg, r.sink, func(error) {})
	if err != nil {
		return nil, err
	}
	out.start(r.stream.run)
	return r, nil
}

func checkRequest(req *envelope.EgressBatchRequest) (*envelope.EgressBatchRequest, error) {
	if req == nil {
		return nil, invalid("nil request")
	}
	if _, err := envelope.RequestSelectors(req); err != nil {
		return nil, invalid("%w", err)
	}
	return proto.Clone(req).(*envelope.EgressBatchRequest), nil
}

func (r *Reader) sink(envs [][]byte) {
	for _, e := range envs {
		r.out.put(e)
	}
	r.out.check()
}

// Envelopes returns an iterator over the decoded envelopes, for a range
// loop. A non-nil error is either a *SlowConsumerError (informational, at the
// point in the stream where the consumer fell behind; keep ranging) or the
// last value: ctx.Err() when ctx ends. The loop ends quietly after Close, or
// after Shutdown once the buffer is drained. Breaking out of the loop leaves
// the Reader running.
func (r *Reader) Envelopes(ctx context.Context) iter.Seq2[*envelope.Envelope, error] {
	return r.out.seq(ctx, decode)
}

func decode(b []byte) (*envelope.Envelope, error) {
	e := new(envelope.Envelope)
	if err := proto.Unmarshal(b, e); err != nil {
		return nil, err
	}
	return e, nil
}

// Next returns the next envelope's wire bytes (a marshaled
// loggregator.v2.Envelope, which the caller may keep), waiting while there is
// none. It returns ctx.Err() when ctx ends, and ErrClosed after Close or
// after Shutdown once the buffer is drained. Slow-consumer episodes are
// reported through WithSlowConsumer and Stats, not by Next.
func (r *Reader) Next(ctx context.Context) ([]byte, error) { return r.out.next(ctx) }

// TryNext returns the next envelope's wire bytes, or false at once when there
// is none (or the Reader is closed).
func (r *Reader) TryNext() ([]byte, bool) { return r.out.tryNext() }

// Stats returns a snapshot of the counters.
func (r *Reader) Stats() Stats {
	ss := r.stream.stats()
	st := Stats{Received: ss.Received, Malformed: ss.Malformed, Reconnects: ss.Reconnects,
		LastError: ss.LastError, LastErrorAt: ss.LastErrorAt, Streams: []StreamStats{ss},
		TLSFailures: r.cfg.tlsWatch.Failures()}
	if ss.Connected {
		st.Connected = 1
	}
	r.out.fill(&st)
	return st
}

// Close stops the stream at once and discards what the buffer holds
// (counted in Stats.Dropped[CauseShutdown]). It is safe to call more than once.
func (r *Reader) Close() error { return r.out.closeNow() }

// Shutdown stops the stream and lets the consumer drain the buffer: Next
// and the iterator keep returning what is buffered, then ErrClosed (the
// iterator ends). It returns when the buffer is empty, or when ctx ends, in
// which case the rest is discarded (counted) and ctx.Err() returned.
func (r *Reader) Shutdown(ctx context.Context) error { return r.out.shutdown(ctx) }
