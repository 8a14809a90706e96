package dropsonde

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/sluicelog/sluice/diode"
	"github.com/sluicelog/sluice/dropsonde/events"
	"github.com/sluicelog/sluice/dropsonde/plumbing"
	"github.com/sluicelog/sluice/stats"
)

// Ingestor serves Loggregator's v1 ingress, /plumbing.DopplerIngestor/Pusher:
// it converts each v1 envelope it receives to v2 (ToV2) and writes the v2
// wire bytes into a buffer, the same kind of buffer an ingress.Server feeds,
// so v1 and v2 traffic meet there and are routed alike.
//
// A payload that is not a valid v1 envelope, or whose type v1 conversion
// does not carry, is counted and skipped; the stream goes on, as with
// Loggregator's router, which drops it with a log line. The Ingestor runs no
// goroutines of its own: it serves on the grpc.Server it is registered on,
// whose owner starts and stops it. All methods are safe for concurrent use.
type Ingestor struct {
	buf diode.Buffer[[]byte]
	cfg config

	received    atomic.Uint64
	converted   [events.Envelope_ContainerMetric + 1]atomic.Uint64 // by v1 event type
	malformed   atomic.Uint64
	unsupported atomic.Uint64
	refusedShut atomic.Uint64 // messages refused after Close
	rejectedSt  atomic.Uint64 // streams refused after Shutdown or Close
	open        atomic.Int64
	closed      atomic.Bool // read on every message: refuse after Close

	mu       sync.Mutex
	draining bool          // Shutdown or Close called: no new streams
	idle     chan struct{} // closed once draining and no stream is open

	warn warnLimiter
}

// NewIngestor returns an Ingestor writing into buf. buf is written from one
// goroutine per open stream: give it a diode.ManyToOne or a Channel (and
// share it with an ingress.Server to route v1 and v2 together).
func NewIngestor(buf diode.Buffer[[]byte], opts ...Option) (*Ingestor, error) {
	if buf == nil {
		return nil, fmt.Errorf("%w: nil buffer", ErrInvalidConfig)
	}
	cfg := defaultConfig()
	for _, o := range opts {
		if o != nil {
			o.apply(&cfg)
		}
	}
	if cfg.warnEvery <= 0 {
		return nil, fmt.Errorf("%w: warn interval %v is not positive", ErrInvalidConfig, cfg.warnEvery)
	}
	return &Ingestor{buf: buf, cfg: cfg, warn: warnLimiter{every: cfg.warnEvery}, idle: make(chan struct{})}, nil
}

// Register registers the Ingestor as plumbing.DopplerIngestor on s. It works
// on any grpc.Server, including one created with ingress.GRPCServerOption to
// serve loggregator.v2.Ingress beside it (that codec hands these messages to
// protobuf).
func (i *Ingestor) Register(s grpc.ServiceRegistrar) {
	plumbing.RegisterDopplerIngestorServer(s, pusher{i: i})
}

// pusher is the Ingestor's gRPC handler, a separate type so that Pusher stays
// out of Ingestor's API.
type pusher struct {
	plumbing.UnimplementedDopplerIngestorServer
	i *Ingestor
}

// Pusher receives v1 envelopes until the client closes its stream, then
// answers PushResponse. (Loggregator's router ends the call without a
// response; its agents never close their streams, so nothing depends on it.)
func (p pusher) Pusher(st grpc.ClientStreamingServer[plumbing.EnvelopeData, plumbing.PushResponse]) error {
	i := p.i
	if err := i.enter(); err != nil {
		return err
	}
	defer i.leave()
	for {
		d, err := st.Recv()
		if err == io.EOF {
			return st.SendAndClose(&plumbing.PushResponse{})
		}
		if err != nil {
			return err
		}
		if i.closed.Load() {
			i.received.Add(1)
			i.refusedShut.Add(1)
			return errClosedStatus
		}
		i.accept(d.GetPayload())
	}
}

var errClosedStatus = status.Error(codes.Unavailable, "dropsonde: ingestor closed")

// enter registers a running stream, or refuses it once draining.
func (i *Ingestor) enter() error {
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.draining {
		i.rejectedSt.Add(1)
		return errClosedStatus
	}
	i.open.Add(1)
	return nil
}

func (i *Ingestor) leave() {
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.open.Add(-1) == 0 && i.draining {
		close(i.idle)
	}
}

// drain makes the Ingestor refuse new streams.
func (i *Ingestor) drain() {
	i.mu.Lock()
	defer i.mu.Unlock()
	if !i.draining {
		i.draining = true
		if i.open.Load() == 0 {
			close(i.idle)
		}
	}
}

// Shutdown stops the Ingestor gracefully: new streams are refused with
// codes.Unavailable and Shutdown waits until the open ones end (their
// clients close them), accepting what they send meanwhile. When ctx ends
// first it closes the Ingestor as Close does and returns ctx's error. A
// router calls it before it stops routing its buffer, so that nothing is
// written into the buffer after the last read. Loggregator's agents never
// close their v1 streams: give ctx a deadline. Safe to call twice.
func (i *Ingestor) Shutdown(ctx context.Context) error {
	i.drain()
	select {
	case <-i.idle:
		return nil
	case <-ctx.Done():
		i.Close()
		return ctx.Err()
	}
}

// Close makes the Ingestor refuse at once: new streams, and every message
// of an open stream, are answered with codes.Unavailable and counted in
// Refused.Closed; the grpc.Server's owner stops the server itself. Safe to
// call twice.
func (i *Ingestor) Close() error {
	i.closed.Store(true)
	i.drain()
	return nil
}

// accept converts one v1 payload and writes it into the buffer, or counts
// why it was refused.
func (i *Ingestor) accept(payload []byte) {
	i.received.Add(1)
	b, typ, err := payloadToV2(payload)
	if err != nil {
		cause := stats.CauseMalformed
		if errors.Is(err, ErrUnsupportedType) {
			cause = causeUnsupportedType
			i.unsupported.Add(1)
		} else {
			i.malformed.Add(1)
		}
		if ok, suppressed := i.warn.allow(time.Now()); ok {
			i.cfg.logger.Warn("dropsonde: v1 envelope refused", "cause", cause, "err", err, "suppressed", suppressed)
		}
		return
	}
	i.buf.Set(b)
	i.converted[typ].Add(1)
}

// IngestorStats is a snapshot of an Ingestor's counters. Once its streams are idle,
// Received == Converted.Total() + Refused.Total().
type IngestorStats struct {
	// Received counts v1 envelopes (EnvelopeData messages) received.
	Received uint64
	// Converted counts envelopes converted and written into the buffer, by
	// v1 type. Its total is what Loggregator's router counts as `ingress`
	// for v1 traffic (one per v1 envelope).
	Converted Converted
	// Refused counts envelopes skipped, by cause.
	Refused Refused
	// Dropped is the buffer's own drop count (`dropped{direction=ingress}`);
	// when the buffer is shared it includes the other writers' drops.
	Dropped uint64
	// RejectedStreams counts Pusher streams refused after Shutdown or Close
	// with codes.Unavailable (`rejected_streams`); they carried nothing.
	RejectedStreams uint64
	// OpenStreams is the number of Pusher streams open now.
	OpenStreams int64
}

// Converted counts converted envelopes by v1 event type.
type Converted struct {
	LogMessage, ValueMetric, CounterEvent, ContainerMetric, HttpStartStop, Error uint64
}

// Total returns the sum over every type.
func (c Converted) Total() uint64 {
	return c.LogMessage + c.ValueMetric + c.CounterEvent + c.ContainerMetric + c.HttpStartStop + c.Error
}

// Refused counts skipped envelopes by cause.
type Refused struct {
	// Malformed: not a valid v1 envelope (see ErrMalformed); cause
	// "malformed".
	Malformed uint64
	// UnsupportedType: an event type that is not converted (see
	// ErrUnsupportedType); cause "unsupported_type".
	UnsupportedType uint64
	// Closed: messages received after Close, answered with
	// codes.Unavailable (the stream ends); cause "closed".
	Closed uint64
}

// Total returns the sum over every cause.
func (r Refused) Total() uint64 { return r.Malformed + r.UnsupportedType + r.Closed }

// Stats returns a snapshot of the Ingestor's counters.
func (i *Ingestor) Stats() IngestorStats {
	c := func(t events.Envelope_EventType) uint64 { return i.converted[t].Load() }
	return IngestorStats{
		Received: i.received.Load(),
		Converted: Converted{
			LogMessage:      c(events.Envelope_LogMessage),
			ValueMetric:     c(events.Envelope_ValueMetric),
			CounterEvent:    c(events.Envelope_CounterEvent),
			ContainerMetric: c(events.Envelope_ContainerMetric),
			HttpStartStop:   c(events.Envelope_HttpStartStop),
			Error:           c(events.Envelope_Error),
		},
		Refused:         Refused{Malformed: i.malformed.Load(), UnsupportedType: i.unsupported.Load(), Closed: i.refusedShut.Load()},
		Dropped:         i.buf.Stats().Dropped,
		RejectedStreams: i.rejectedSt.Load(),
		OpenStreams:     i.open.Load(),
	}
}

// warnLimiter lets one warning through per interval and counts the rest.
type warnLimiter struct {
	every      time.Duration
	next       atomic.Int64 // unix nanoseconds before which warnings are suppressed
	suppressed atomic.Uint64
}

// allow reports whether a warning may be logged at now and, if so, how many
// were suppressed since the last one. Of concurrent callers in a new
// interval exactly one wins the compare-and-swap; the others count as
// suppressed.
func (w *warnLimiter) allow(now time.Time) (bool, uint64) {
	n := now.UnixNano()
	next := w.next.Load()
	if n < next || !w.next.CompareAndSwap(next, n+int64(w.every)) {
		w.suppressed.Add(1)
		return false, 0
	}
	return true, w.suppressed.Swap(0)
}
