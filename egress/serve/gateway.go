package serve

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/sluicelog/sluice/egress/authz"
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

	mu        sync.Mutex
	draining  bool
	streams   map[*gatewayStream]struct{}
	handlers  sync.WaitGroup
	rejected  uint64
	egress    uint64
	dropped   stats.Drops
	byShard   map[string]stats.Drops // dropped, by shard ID (gateway_evict.go)
	evictions uint64                 // streams ended by the write timeout
	refusals  refusals
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
	// decoded); CauseWriteTimeout (the client read nothing for the write
	// timeout and was evicted). DroppedByShard splits it by shard ID.
	Dropped        stats.Drops
	DroppedByShard map[string]stats.Drops
	// Evicted (`evicted_streams`) counts streams ended because a write
	// blocked longer than the write timeout (WithWriteTimeout).
	Evicted uint64
	// Refused counts the requests (also in RejectedStreams) refused by the
	// authorizer or the per-client limit, by cause (see ServerStats).
	Refused map[string]uint64
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
	if cfg.heartbeat <= 0 || cfg.timeout <= 0 || cfg.batchSize < 1 || cfg.interval <= 0 || cfg.maxStreams < 1 || cfg.maxClient < 1 || cfg.maxQuery < 1 {
		return nil, fmt.Errorf("%w: gateway heartbeat, stream timeout, batch size, interval, max streams, max client streams and max query bytes must be positive", ErrInvalidConfig)
	}
	return &Gateway{sub: s, cfg: cfg, streams: make(map[*gatewayStream]struct{})}, nil
}

// gatewayError is an error answer. Its body is Loggregator's: the JSON
// object {"message": ..., "error": ...} (in that order) and a newline,
// written with http.Error, which makes it text/plain and adds a newline.
type gatewayError struct {
	status  int
	Message string `json:"message"`
	Code    string `json:"error"`
}

var (
	gatewayErrEmptyQuery  = gatewayError{http.StatusBadRequest, "query cannot be empty", "empty_query"}
	gatewayErrMissingType = gatewayError{http.StatusBadRequest, "query must provide at least one envelope type", "missing_envelope_type"}
	gatewayErrCounterName = gatewayError{http.StatusBadRequest, "counter.name is invalid without value", "missing_counter_name"}
	gatewayErrGaugeName   = gatewayError{http.StatusBadRequest, "gauge.name is invalid without value", "missing_gauge_name"}
	gatewayErrMethod      = gatewayError{http.StatusMethodNotAllowed, "method not allowed", "method_not_allowed"}
	gatewayErrNotFound    = gatewayError{http.StatusNotFound, "resource not found", "not_found"}
	gatewayErrNoStreaming = gatewayError{http.StatusInternalServerError, "request does not support streaming", "streaming_unsupported"}
	gatewayErrUnavailable = gatewayError{http.StatusServiceUnavailable, ErrGatewayClosed.Error(), "unavailable"}
)

func (g *Gateway) fail(w http.ResponseWriter, e gatewayError) {
	g.mu.Lock()
	g.rejected++
	g.mu.Unlock()
	var body strings.Builder
	_ = json.NewEncoder(&body).Encode(e) // ends with a newline, as Loggregator's
	http.Error(w, body.String(), e.status)
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
	if !g.checkQueryLength(w, r) {
		return
	}
	req, _, gerr := gatewayRequest(r.URL.Query(), g.cfg.strictQuery)
	if gerr != nil {
		g.fail(w, *gerr)
		return
	}
	if la, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
		if err := checkOpen(g.cfg.authorizerSet, la.String()); err != nil {
			g.mu.Lock()
			g.refusals.add(RefusedDenied)
			g.mu.Unlock()
			g.fail(w, gatewayError{http.StatusForbidden, err.Error(), "forbidden"})
			return
		}
	}
	id := authz.FromHTTP(r)
	if err := g.cfg.authorizer.Authorize(r.Context(), id, authzRequest(req)); err != nil {
		cause := authzCause(err)
		g.mu.Lock()
		g.refusals.add(cause)
		g.mu.Unlock()
		g.cfg.logger.Info("serve: gateway request refused", "cause", cause, "shard_id", req.GetShardId(), "err", err)
		g.fail(w, authzHTTP(cause, err))
		return
	}
	client := clientKey(id, r.RemoteAddr)
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
		g.fail(w, gatewayError{http.StatusTooManyRequests,
			fmt.Sprintf("serve: at most %d streams at once", g.cfg.maxStreams), "too_many_streams"})
		return
	}
	if !g.refusals.acquire(client, g.cfg.maxClient) {
		g.refusals.add(RefusedClientStreams)
		g.mu.Unlock()
		g.fail(w, gatewayError{http.StatusTooManyRequests,
			fmt.Sprintf("serve: at most %d streams from one client", g.cfg.maxClient), "too_many_streams"})
		return
	}
	g.streams[st] = struct{}{}
	g.handlers.Add(1)
	g.mu.Unlock()
	defer func() {
		g.mu.Lock()
		delete(g.streams, st)
		g.refusals.release(client)
		g.mu.Unlock()
		g.handlers.Done()
	}()

	sub, err := g.sub.Subscribe(r.Context(), req)
	if err != nil {
		e := gatewayError{http.StatusServiceUnavailable, err.Error(), "unavailable"}
		switch {
		case errors.Is(err, envelope.ErrNoSelectors), errors.Is(err, envelope.ErrSelectorWithoutMessage),
			errors.Is(err, ErrRequestTooLarge):
			e = gatewayError{http.StatusBadRequest, err.Error(), "invalid_request"}
		case errors.Is(err, ErrTooManyShards):
			e = gatewayError{http.StatusTooManyRequests, err.Error(), "too_many_shards"}
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
	sw := &gatewayWriter{w: w, rc: rc, last: time.Now(), timeout: g.cfg.writeTimeout}
	if sw.err = rc.Flush(); sw.err != nil {
		return
	}

	// Loggregator's gateway: protojson with every field, populated or not,
	// under the JSON names of envelope.proto (source_id, instance_id,
	// deprecated_tags; the rest are one word). Compacted, because protojson
	// varies its spacing on purpose; the bytes are then the same in every
	// build, and mean the same.
	marshal := protojson.MarshalOptions{EmitUnpopulated: true}
	var compact bytes.Buffer
	frame := &envelope.Batch{}
	flush := func(raw [][]byte) {
		if sw.err != nil {
			g.count(req.ShardId, 0, len(raw), 0)
			return
		}
		clear(frame.Batch)
		frame.Batch = frame.Batch[:0]
		bad := 0
		for _, b := range raw {
			e := new(envelope.Envelope)
			if err := proto.Unmarshal(convergeTags(b, req.UsePreferredTags), e); err != nil {
				bad++
				continue
			}
			frame.Batch = append(frame.Batch, e)
		}
		if len(frame.Batch) == 0 {
			g.count(req.ShardId, 0, 0, bad)
			return
		}
		data, err := marshal.Marshal(frame)
		if err == nil {
			compact.Reset()
			if err = json.Compact(&compact, data); err == nil {
				err = sw.frame("", compact.Bytes())
			}
		}
		if err != nil {
			g.countLost(req.ShardId, err, len(frame.Batch), bad)
			_ = sub.Close()
			stop()
			return
		}
		g.count(req.ShardId, len(frame.Batch), 0, bad)
	}
	reader := &gatewayReader{sub: sub, w: sw, every: g.cfg.heartbeat}
	_ = batch.Run(ctx, reader, batch.Config{Size: g.cfg.batchSize, Interval: g.cfg.interval}, flush)
	g.evicted(sw.err, req.ShardId, r.RemoteAddr)
	if sw.err == nil && r.Context().Err() == nil {
		reason := "closing due to stream timeout"
		if errors.Is(ctx.Err(), context.Canceled) {
			reason = "server shutting down"
		}
		_ = sw.frame("closing", []byte(reason))
	}
}

// count adds envelopes written, lost to a client that went away, and
// malformed, for shard.
func (g *Gateway) count(shard string, sent, gone, malformed int) {
	g.mu.Lock()
	g.egress += uint64(sent)
	g.drop(shard, CauseClientGone, gone)
	g.drop(shard, CauseMalformed, malformed)
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

	timeout time.Duration // for each frame's write (0: none)
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
		_ = s.rc.SetWriteDeadline(time.Now().Add(s.timeout)) // ErrNotSupported: such writers do not block
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
// Loggregator's gateway does, and returns the source IDs to authorize (none:
// the request reads every source ID):
//
//   - Each source_id parameter is one source ID, taken as it is (an empty
//     one selects every source ID); none selects every source ID.
//   - For each source ID, log, counter, gauge, timer and event each make one
//     selector. Each counter.name parameter makes its own counter selector
//     for that name (a comma is part of the name); each gauge.name
//     parameter makes its own gauge selector for the comma-separated names
//     it holds. Either one implies its type.
//   - The request asks for preferred tags (use_preferred_tags), as
//     Loggregator's gateway always does.
//
// With strict (WithStrictQuery), an empty counter.name, an empty name in
// gauge.name and an empty source_id are refused with 400 instead.
func gatewayRequest(q url.Values, strict bool) (*envelope.EgressBatchRequest, []string, *gatewayError) {
	if len(q) == 0 {
		return nil, nil, &gatewayErrEmptyQuery
	}
	has := func(k string) bool { _, ok := q[k]; return ok }
	log, counter, gauge, timer, event := has("log"), has("counter") || has("counter.name"), has("gauge") || has("gauge.name"), has("timer"), has("event")
	if !log && !counter && !gauge && !timer && !event {
		return nil, nil, &gatewayErrMissingType
	}
	counterNames, gaugeNames := q["counter.name"], q["gauge.name"]
	if strict {
		for _, n := range counterNames {
			if n == "" {
				return nil, nil, &gatewayErrCounterName
			}
		}
		for _, n := range gaugeNames {
			if slices.Contains(strings.Split(n, ","), "") {
				return nil, nil, &gatewayErrGaugeName
			}
		}
		if slices.Contains(q["source_id"], "") {
			return nil, nil, &gatewayError{http.StatusBadRequest, "source_id is invalid without value", "invalid_source_id"}
		}
	}
	sourceIDs := q["source_id"]
	ids := sourceIDs
	if len(ids) == 0 {
		ids = []string{""}
	}
	if slices.Contains(sourceIDs, "") {
		sourceIDs = nil // one selector reads every source ID
	}
	var sels []*envelope.Selector
	for _, id := range ids {
		if log {
			sels = append(sels, &envelope.Selector{SourceId: id, Message: &envelope.Selector_Log{Log: &envelope.LogSelector{}}})
		}
		if counter {
			if counterNames == nil {
				sels = append(sels, &envelope.Selector{SourceId: id, Message: &envelope.Selector_Counter{Counter: &envelope.CounterSelector{}}})
			}
			for _, n := range counterNames {
				sels = append(sels, &envelope.Selector{SourceId: id, Message: &envelope.Selector_Counter{Counter: &envelope.CounterSelector{Name: n}}})
			}
		}
		if gauge {
			if len(gaugeNames) == 0 {
				sels = append(sels, &envelope.Selector{SourceId: id, Message: &envelope.Selector_Gauge{Gauge: &envelope.GaugeSelector{}}})
			}
			for _, n := range gaugeNames {
				sels = append(sels, &envelope.Selector{SourceId: id, Message: &envelope.Selector_Gauge{Gauge: &envelope.GaugeSelector{Names: strings.Split(n, ",")}}})
			}
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
		UsePreferredTags:  true,
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
	st := GatewayStats{Streams: len(g.streams), RejectedStreams: g.rejected, Egress: g.egress, Dropped: g.dropped.Clone(),
		DroppedByShard: make(map[string]stats.Drops, len(g.byShard)), Evicted: g.evictions, Refused: g.refusals.snapshot()}
	for id, d := range g.byShard {
		st.DroppedByShard[id] = d.Clone()
	}
	return st
}

func (e gatewayError) Error() string { return fmt.Sprintf("serve: %s: %s", e.Code, e.Message) }

// WithStrictQuery makes a Gateway refuse, with 400, queries that
// Loggregator's gateway takes although they select oddly: an empty
// counter.name (every counter), an empty name in gauge.name (a gauge
// metric named "") and an empty source_id (every source ID). Default:
// taken as Loggregator takes them.
func WithStrictQuery() GatewayOption {
	return gatewayOptionFunc(func(c *gatewayConfig) { c.strictQuery = true })
}
