package nozzle

import (
	"context"
	"iter"
	"slices"
	"strings"
	"sync"

	"github.com/sluicelog/sluice/discovery"
	"github.com/sluicelog/sluice/envelope"
)

// Firehose is the reverse log proxy's job for one nozzle instance: it
// subscribes to every router a discovery.Source knows, with the same request
// (shard ID, selectors, deterministic name), and merges the streams into one
// buffer (default 10,000 envelopes; when full, new envelopes are dropped and
// counted).
//
// It follows the source: a router that appears is subscribed at once. A
// router that discovery stops listing is read until it ends its stream
// (a router stopping gracefully leaves discovery first and ends its egress
// streams only once their buffers are sent): the Firehose does not
// reconnect to it, and removes it then. A State with an error (an outage
// of the registry) never removes a stream: the last good set stays
// subscribed, and endpoints it still lists are added.
//
// Next, TryNext and Close make a Firehose an serve.Subscription, so a proxy
// is an serve.Server fed by a Firehose per subscriber (FirehoseSubscriber).
// Next, TryNext and the iterator are one consumer: call them from one
// goroutine at a time; everything else is safe for concurrent use.
type Firehose struct {
	cfg config
	src discovery.Source
	req *envelope.EgressBatchRequest
	out *outlet[[]byte]

	mu      sync.Mutex
	streams map[string]*fhStream // by endpoint key
	leaving map[*fhStream]bool   // no longer listed, read until they end
	retired StreamStats          // sums of the streams that were removed
	lastErr errRecord
	wg      sync.WaitGroup // stream goroutines
}

type fhStream struct {
	*grpcStream
	ep     discovery.Endpoint
	cancel context.CancelFunc
	done   chan struct{}
}

// NewFirehose starts a Firehose over the routers of src subscribed with req
// (copied). It returns an error wrapping ErrInvalidConfig for a nil source
// or a request that asks for nothing.
//
// It reads WithTLS, WithLogger, WithBufferSize, WithBackoff,
// WithSlowConsumer and WithKeepalive (applied to every router's stream).
func NewFirehose(src discovery.Source, req *envelope.EgressBatchRequest, opts ...FirehoseOption) (*Firehose, error) {
	cfg, err := buildConfig(opts, FirehoseOption.applyFirehose)
	if err != nil {
		return nil, err
	}
	if src == nil {
		return nil, invalid("nil discovery source")
	}
	req, err = checkRequest(req)
	if err != nil {
		return nil, err
	}
	out, err := newOutlet[[]byte](cfg.bufferSize, cfg.onSlow, cfg.wireBytes())
	if err != nil {
		return nil, err
	}
	f := &Firehose{cfg: cfg, src: src, req: req, out: out, streams: map[string]*fhStream{}, leaving: map[*fhStream]bool{}}
	out.start(func(ctx context.Context) {
		f.follow(ctx, src.Subscribe(ctx))
		f.wg.Wait() // the streams end with ctx
	})
	return f, nil
}

// FirehoseSubscriber returns a function that starts a Firehose over src for
// each request, shaped like serve.SubscriberFunc: a proxy hands it to an
// serve.Server or serve.Gateway, and every downstream subscriber gets its
// own Firehose with its own shard ID and selectors, closed when ctx ends (the
// subscriber's stream is over) or when the server calls Close.
// It returns Subscription (an interface) rather than *Firehose so that a
// failure yields a nil interface value when passed on as an
// serve.Subscription.
func FirehoseSubscriber(src discovery.Source, opts ...FirehoseOption) func(ctx context.Context, req *envelope.EgressBatchRequest) (Subscription, error) {
	return func(ctx context.Context, req *envelope.EgressBatchRequest) (Subscription, error) {
		f, err := NewFirehose(src, req, opts...)
		if err != nil {
			return nil, err
		}
		context.AfterFunc(ctx, func() { f.Close() })
		return f, nil
	}
}

// Subscription is what serve.Server reads from: envelope wire bytes with a
// blocking and a non-blocking read, and Close. *Firehose and *Reader
// implement it. It is an alias of the same interface literal that
// serve.Subscription aliases, so the two are one type and
// serve.SubscriberFunc(FirehoseSubscriber(...)) needs no adapter.
type Subscription = interface {
	Next(ctx context.Context) ([]byte, error)
	TryNext() ([]byte, bool)
	Close() error
}

var (
	_ Subscription = (*Firehose)(nil)
	_ Subscription = (*Reader)(nil)
)

// follow applies discovery states until ctx ends.
func (f *Firehose) follow(ctx context.Context, states <-chan discovery.State) {
	for {
		select {
		case <-ctx.Done():
			return
		case st, ok := <-states:
			if !ok {
				// The source closed (or ctx ended): keep what we have.
				<-ctx.Done()
				return
			}
			f.apply(ctx, st)
		}
	}
}

// apply reconciles the streams with st. With st.Err set, only additions
// are made: an erroring source keeps the last good set.
func (f *Firehose) apply(ctx context.Context, st discovery.State) {
	if st.Err != nil {
		f.lastErr.set(st.Err)
		f.cfg.logger.Warn("nozzle: discovery error, keeping the last good set", "err", st.Err, "endpoints", len(st.Endpoints))
	}
	want := make(map[string]discovery.Endpoint, len(st.Endpoints))
	for _, ep := range st.Endpoints {
		if ep.Addr != "" {
			want[ep.Key()] = ep
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if ctx.Err() != nil {
		return
	}
	for key, s := range f.streams {
		ep, ok := want[key]
		if ok && ep.Addr == s.ep.Addr {
			continue
		}
		if !ok && st.Err != nil {
			continue // outage: keep it
		}
		// Read it until its router ends the stream; then it is retired.
		delete(f.streams, key)
		f.leaving[s] = true
		s.depart()
	}
	for key, ep := range want {
		if _, ok := f.streams[key]; ok {
			continue
		}
		gs, err := newGRPCStream(key, ep.Addr, f.req, &f.cfg, f.sink, f.lastErr.set)
		if err != nil {
			f.lastErr.set(err)
			f.cfg.logger.Warn("nozzle: cannot subscribe", "addr", ep.Addr, "err", err)
			continue
		}
		sctx, cancel := context.WithCancel(ctx)
		s := &fhStream{grpcStream: gs, ep: ep, cancel: cancel, done: make(chan struct{})}
		f.streams[key] = s
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			defer close(s.done)
			s.run(sctx)
			f.mu.Lock()
			if f.leaving[s] {
				delete(f.leaving, s)
				f.retire(s.stats())
				s.cancel()
			}
			f.mu.Unlock()
		}()
	}
}

func (f *Firehose) retire(s StreamStats) {
	f.retired.Received += s.Received
	f.retired.Batches += s.Batches
	f.retired.Malformed += s.Malformed
	f.retired.Reconnects += s.Reconnects
}

func (f *Firehose) sink(envs [][]byte) {
	for _, e := range envs {
		f.out.put(e)
	}
	f.out.check()
}

// Envelopes returns an iterator over the decoded envelopes of all routers,
// with Reader.Envelopes' rules.
func (f *Firehose) Envelopes(ctx context.Context) iter.Seq2[*envelope.Envelope, error] {
	return f.out.seq(ctx, decode)
}

// Next returns the next envelope's wire bytes, waiting while there is none,
// with Reader.Next's rules.
func (f *Firehose) Next(ctx context.Context) ([]byte, error) { return f.out.next(ctx) }

// TryNext returns the next envelope's wire bytes, or false at once.
func (f *Firehose) TryNext() ([]byte, bool) { return f.out.tryNext() }

// Stats returns the totals (including routers no longer subscribed) and
// one StreamStats per router subscribed now.
func (f *Firehose) Stats() Stats {
	f.mu.Lock()
	st := Stats{
		Received: f.retired.Received, Malformed: f.retired.Malformed, Reconnects: f.retired.Reconnects,
		Streams: make([]StreamStats, 0, len(f.streams)),
	}
	add := func(ss StreamStats) {
		st.Received += ss.Received
		st.Malformed += ss.Malformed
		st.Reconnects += ss.Reconnects
		if ss.Connected {
			st.Connected++
		}
	}
	for _, s := range f.streams {
		ss := s.stats()
		st.Streams = append(st.Streams, ss)
		add(ss)
	}
	for s := range f.leaving {
		add(s.stats()) // no longer listed, still read
	}
	f.mu.Unlock()
	slices.SortFunc(st.Streams, func(a, b StreamStats) int { return strings.Compare(a.Addr, b.Addr) })
	st.LastError, st.LastErrorAt = f.lastErr.get()
	st.TLSFailures = f.cfg.tlsWatch.Failures()
	f.out.fill(&st)
	return st
}

// Close stops every stream at once and discards what the buffer holds
// (counted). It is safe to call more than once.
func (f *Firehose) Close() error { return f.out.closeNow() }

// Shutdown stops every stream and lets the consumer drain the buffer, with
// Reader.Shutdown's rules.
func (f *Firehose) Shutdown(ctx context.Context) error { return f.out.shutdown(ctx) }
