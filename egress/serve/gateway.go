package serve

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/sluicelog/sluice/envelope"
	"github.com/sluicelog/sluice/internal/batch"
	"github.com/sluicelog/sluice/stats"
)

// ErrGatewayClosed is reported (as 503) to requests after Shutdown or Close.
var ErrGatewayClosed = errors.New("serve: gateway closed")

// GatewayPath is the path the Gateway serves, Loggregator's.
const GatewayPath = "/v2/read"

// Gateway is an http.Handler for Loggregator's HTTP egress API: GET
// /v2/read answers a server-sent-events stream of EnvelopeBatch frames
// encoded as protojson. It is the one place in package egress that decodes
// envelopes (JSON needs the structure).
type Gateway struct {
	sub Subscriber
	cfg gatewayConfig

	mu       sync.Mutex
	draining bool
	streams  map[*gatewayStream]struct{}
	handlers sync.WaitGroup
	rejected uint64
	egress   uint64
	dropped  stats.Drops
}

type gatewayStream struct {
	stop context.CancelFunc
	rc   *http.ResponseController // to cut a write blocked on a client that does not read
	sub  Subscription
}

// GatewayStats is a snapshot of a Gateway's counters.
type GatewayStats struct {
	// Streams is the number of open streams.
	Streams int
	// RejectedStreams (`rejected_streams`) counts requests refused: bad
	// queries, wrong methods, refused authorizations, failed subscribes, a
	// closing gateway.
	RejectedStreams uint64
	// Egress (`egress`) counts envelopes written to clients.
	Egress uint64
	// Dropped (`dropped{direction=egress}`) counts envelopes read from a
	// subscription but not written, by cause: CauseClientGone (the client
	// went away mid-frame) and CauseMalformed (the envelope could not be
	// decoded).
	Dropped stats.Drops
}

// NewGateway returns a Gateway that subscribes through s.
func NewGateway(s Subscriber, opts ...GatewayOption) (*Gateway, error) {
	if s == nil {
		return nil, fmt.Errorf("%w: nil Subscriber", ErrInvalidConfig)
	}
	cfg := gatewayDefaults()
	for _, o := range opts {
		if o != nil {
			o.applyGateway(&cfg)
		}
	}
	if cfg.heartbeat <= 0 || cfg.timeout <= 0 || cfg.batchSize < 1 || cfg.interval <= 0 || cfg.maxStreams < 1 {
		return nil, fmt.Errorf("%w: gateway heartbeat, stream timeout, batch size, interval and max streams must be positive", ErrInvalidConfig)
	}
	return &Gateway{sub: s, cfg: cfg, streams: make(map[*gatewayStream]struct{})}, nil
}

// gatewayError is the JSON body of an error answer, Loggregator's shape.
type gatewayError struct {
	status  int
	Code    string `json:"error"`
	Message string `json:"message"`
}

var (
	gatewayErrEmptyQuery    = gatewayError{http.StatusBadRequest, "empty_query", "query cannot be empty"}
	gatewayErrMissingType   = gatewayError{http.StatusBadRequest, "missing_envelope_type", "query must provide at least one envelope type"}
	gatewayErrCounterName   = gatewayError{http.StatusBadRequest, "missing_counter_name", "counter.name is invalid"}
	gatewayErrGaugeName     = gatewayError{http.StatusBadRequest, "missing_gauge_name", "gauge.name is invalid"}
	gatewayErrMethod        = gatewayError{http.StatusMethodNotAllowed, "method_not_allowed", "method not allowed"}
	gatewayErrNotFound      = gatewayError{http.StatusNotFound, "not_found", "resource not found"}
	gatewayErrNoStreaming   = gatewayError{http.StatusInternalServerError, "streaming_unsupported", "request does not support streaming"}
	gatewayErrUnavailable   = gatewayError{http.StatusServiceUnavailable, "unavailable", ErrGatewayClosed.Error()}
	gatewayErrorContentType = "application/json"
)

func (g *Gateway) fail(w http.ResponseWriter, e gatewayError) {
	g.mu.Lock()
	g.rejected++
	g.mu.Unlock()
	body, _ := json.Marshal(e)
	w.Header().Set("Content-Type", gatewayErrorContentType)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(e.status)
	_, _ = w.Write(body)
}

// ServeHTTP serves GET /v2/read.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != GatewayPath {
		g.fail(w, gatewayErrNotFound)
		return
	}
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", http.MethodGet)
		g.fail(w, gatewayErrMethod)
		return
	}
	req, sourceIDs, gerr := gatewayRequest(r.URL.Query())
	if gerr != nil {
		g.fail(w, *gerr)
		return
	}
	if err := g.cfg.authorize(r, sourceIDs); err != nil {
		g.fail(w, gatewayError{http.StatusForbidden, "forbidden", err.Error()})
		return
	}
	rc := http.NewResponseController(w)
	if !gatewayCanFlush(w) {
		g.fail(w, gatewayErrNoStreaming)
		return
	}

	ctx, stop := context.WithTimeout(r.Context(), g.cfg.timeout)
	defer stop()
	st := &gatewayStream{stop: stop, rc: rc}
	g.mu.Lock()
	if g.draining {
		g.mu.Unlock()
		g.fail(w, gatewayErrUnavailable)
		return
	}
	if len(g.streams) >= g.cfg.maxStreams {
		g.mu.Unlock()
		g.fail(w, gatewayError{http.StatusTooManyRequests, "too_many_streams",
			fmt.Sprintf("serve: at most %d streams at once", g.cfg.maxStreams)})
		return
	}
	g.streams[st] = struct{}{}
	g.handlers.Add(1)
	g.mu.Unlock()
	defer func() {
		g.mu.Lock()
		delete(g.streams, st)
		g.mu.Unlock()
		g.handlers.Done()
	}()

	sub, err := g.sub.Subscribe(r.Context(), req)
	if err != nil {
		e := gatewayError{http.StatusServiceUnavailable, "unavailable", err.Error()}
		if errors.Is(err, envelope.ErrNoSelectors) || errors.Is(err, envelope.ErrSelectorWithoutMessage) {
			e = gatewayError{http.StatusBadRequest, "invalid_request", err.Error()}
		}
		g.fail(w, e)
		return
	}
	// A client that goes away closes the subscription at once (it was made
	// with the request's context); this covers every other way out.
	defer sub.Close()
	g.mu.Lock()
	st.sub = sub
	g.mu.Unlock()

	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	sw := &gatewayWriter{w: w, rc: rc, last: time.Now(), timeout: g.cfg.writeTO}
	if sw.err = rc.Flush(); sw.err != nil {
		return
	}

	marshal := protojson.MarshalOptions{UseProtoNames: true}
	frame := &envelope.Batch{}
	flush := func(raw [][]byte) {
		if sw.err != nil {
			g.count(0, len(raw), 0)
			return
		}
		clear(frame.Batch)
		frame.Batch = frame.Batch[:0]
		bad := 0
		for _, b := range raw {
			e := new(envelope.Envelope)
			if err := proto.Unmarshal(b, e); err != nil {
				bad++
				continue
			}
			frame.Batch = append(frame.Batch, e)
		}
		if len(frame.Batch) == 0 {
			g.count(0, 0, bad)
			return
		}
		data, err := marshal.Marshal(frame)
		if err == nil {
			err = sw.frame("", data)
		}
		if err != nil {
			g.count(0, len(frame.Batch), bad)
			_ = sub.Close()
			stop()
			return
		}
		g.count(len(frame.Batch), 0, bad)
	}
	reader := &gatewayReader{sub: sub, w: sw, every: g.cfg.heartbeat}
	_ = batch.Run(ctx, reader, batch.Config{Size: g.cfg.batchSize, Interval: g.cfg.interval}, flush)
	if sw.err == nil && r.Context().Err() == nil {
		reason := "stream timeout"
		if errors.Is(ctx.Err(), context.Canceled) {
			reason = "server shutting down"
		}
		_ = sw.frame("closing", []byte(reason))
	}
}

// count adds envelopes written, lost to a client that went away, and
// malformed.
func (g *Gateway) count(sent, gone, malformed int) {
	g.mu.Lock()
	g.egress += uint64(sent)
	g.dropped.Add(CauseClientGone, uint64(gone))
	g.dropped.Add(CauseMalformed, uint64(malformed))
	g.mu.Unlock()
}

func gatewayCanFlush(w http.ResponseWriter) bool {
	for {
		switch t := w.(type) {
		case http.Flusher:
			return true
		case interface{ Unwrap() http.ResponseWriter }:
			w = t.Unwrap()
		default:
			return false
		}
	}
}

// gatewayWriter writes server-sent events; only the handler's goroutine
// uses it (heartbeats are written from inside the reader's Next).
type gatewayWriter struct {
	w    http.ResponseWriter
	rc   *http.ResponseController
	last time.Time // of the last frame
	err  error     // the first write error; nothing is written after it

	timeout time.Duration // per frame; 0: none
}

func (s *gatewayWriter) frame(event string, data []byte) error {
	if s.err != nil {
		return s.err
	}
	var buf []byte
	if event != "" {
		buf = append(buf, "event: "...)
		buf = append(buf, event...)
		buf = append(buf, '\n')
	}
	buf = append(buf, "data: "...)
	buf = append(buf, data...)
	buf = append(buf, "\n\n"...)
	if s.timeout > 0 {
		// A writer that cannot set deadlines (http.ErrNotSupported) writes
		// without one.
		_ = s.rc.SetWriteDeadline(time.Now().Add(s.timeout))
	}
	if _, s.err = s.w.Write(buf); s.err == nil {
		s.err = s.rc.Flush()
	}
	s.last = time.Now()
	return s.err
}

// gatewayReader is the subscription as batch.Run reads it, with heartbeats:
// while it waits for an envelope it writes `event: heartbeat` whenever the
// stream has been idle for the heartbeat interval.
type gatewayReader struct {
	sub   Subscription
	w     *gatewayWriter
	every time.Duration
}

func (r *gatewayReader) TryNext() ([]byte, bool) { return r.sub.TryNext() }

func (r *gatewayReader) Next(ctx context.Context) ([]byte, error) {
	for {
		due := r.w.last.Add(r.every)
		if time.Until(due) <= 0 {
			if err := r.w.frame("heartbeat", strconv.AppendInt(nil, time.Now().Unix(), 10)); err != nil {
				return nil, err
			}
			continue
		}
		hctx, cancel := context.WithDeadline(ctx, due)
		v, err := r.sub.Next(hctx)
		cancel()
		if err == nil || ctx.Err() != nil || !errors.Is(err, context.DeadlineExceeded) {
			return v, err
		}
		// The heartbeat is due: loop to write it.
	}
}

// gatewayRequest builds the egress request of a /v2/read query as
// Loggregator's gateway does: each of log, counter, gauge, timer and event
// makes one selector per source_id (or one for every source ID when there
// is none). counter.name (comma-separated) makes one counter selector per
// name; gauge.name (comma-separated) one gauge selector asking for all the
// names. Either one implies its type.
func gatewayRequest(q url.Values) (*envelope.EgressBatchRequest, []string, *gatewayError) {
	if len(q) == 0 {
		return nil, nil, &gatewayErrEmptyQuery
	}
	var sourceIDs []string
	for _, id := range q["source_id"] {
		for _, p := range strings.Split(id, ",") {
			if p = strings.TrimSpace(p); p != "" {
				sourceIDs = append(sourceIDs, p)
			}
		}
	}
	names := func(key string) ([]string, bool) {
		vs, ok := q[key]
		if !ok {
			return nil, true
		}
		var out []string
		for _, v := range vs {
			for _, p := range strings.Split(v, ",") {
				if p = strings.TrimSpace(p); p != "" {
					out = append(out, p)
				}
			}
		}
		return out, len(out) > 0
	}
	counterNames, ok := names("counter.name")
	if !ok {
		return nil, nil, &gatewayErrCounterName
	}
	gaugeNames, ok := names("gauge.name")
	if !ok {
		return nil, nil, &gatewayErrGaugeName
	}
	has := func(k string) bool { _, ok := q[k]; return ok }
	log, counter, gauge, timer, event := has("log"), has("counter") || counterNames != nil, has("gauge") || gaugeNames != nil, has("timer"), has("event")
	if !log && !counter && !gauge && !timer && !event {
		return nil, nil, &gatewayErrMissingType
	}
	ids := sourceIDs
	if len(ids) == 0 {
		ids = []string{""}
	}
	var sels []*envelope.Selector
	for _, id := range ids {
		if log {
			sels = append(sels, &envelope.Selector{SourceId: id, Message: &envelope.Selector_Log{Log: &envelope.LogSelector{}}})
		}
		if counter {
			if len(counterNames) == 0 {
				sels = append(sels, &envelope.Selector{SourceId: id, Message: &envelope.Selector_Counter{Counter: &envelope.CounterSelector{}}})
			}
			for _, n := range counterNames {
				sels = append(sels, &envelope.Selector{SourceId: id, Message: &envelope.Selector_Counter{Counter: &envelope.CounterSelector{Name: n}}})
			}
		}
		if gauge {
			sels = append(sels, &envelope.Selector{SourceId: id, Message: &envelope.Selector_Gauge{Gauge: &envelope.GaugeSelector{Names: gaugeNames}}})
		}
		if timer {
			sels = append(sels, &envelope.Selector{SourceId: id, Message: &envelope.Selector_Timer{Timer: &envelope.TimerSelector{}}})
		}
		if event {
			sels = append(sels, &envelope.Selector{SourceId: id, Message: &envelope.Selector_Event{Event: &envelope.EventSelector{}}})
		}
	}
	return &envelope.EgressBatchRequest{
		ShardId:           q.Get("shard_id"),
		DeterministicName: q.Get("deterministic_name"),
		Selectors:         sels,
	}, sourceIDs, nil
}

// Shutdown refuses new requests (503), ends every stream after writing what
// its subscription holds and an `event: closing` frame, and waits for the
// handlers to return. When ctx ends first it closes at once and returns
// ctx's error. Safe to call twice.
func (g *Gateway) Shutdown(ctx context.Context) error {
	g.mu.Lock()
	g.draining = true
	for st := range g.streams {
		st.stop()
	}
	g.mu.Unlock()
	done := make(chan struct{})
	go func() {
		g.handlers.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		_ = g.Close()
		return ctx.Err()
	}
}

// Close refuses new requests and ends every stream at once, closing its
// subscription (what it held is discarded and counted by the Subscriber)
// and cutting a write blocked on a client that does not read (through the
// connection's write deadline). It returns once every handler has
// returned. Safe to call more than once, and during Shutdown, which it
// cuts short.
func (g *Gateway) Close() error {
	g.mu.Lock()
	g.draining = true
	for st := range g.streams {
		st.stop()
		if st.sub != nil {
			_ = st.sub.Close()
		}
		_ = st.rc.SetWriteDeadline(time.Now()) // ErrNotSupported by some writers: they do not block
	}
	g.mu.Unlock()
	g.handlers.Wait()
	return nil
}

// Stats returns a snapshot of the counters.
func (g *Gateway) Stats() GatewayStats {
	g.mu.Lock()
	defer g.mu.Unlock()
	return GatewayStats{Streams: len(g.streams), RejectedStreams: g.rejected, Egress: g.egress, Dropped: g.dropped.Clone()}
}

func (e gatewayError) Error() string { return fmt.Sprintf("serve: %s: %s", e.Code, e.Message) }
