package firehose

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"google.golang.org/protobuf/proto"

	"github.com/sluicelog/sluice/dropsonde"
	"github.com/sluicelog/sluice/egress/authz"
	"github.com/sluicelog/sluice/egress/serve"
	"github.com/sluicelog/sluice/envelope"
	"github.com/sluicelog/sluice/stats"
)

// Paths the Handler serves, the traffic controller's.
const (
	// FirehosePath streams every envelope; the subscription ID is the shard
	// ID (clients with the same ID share the stream).
	FirehosePath = "/firehose/{subscription_id}"
	// AppStreamPath streams one source ID's envelopes; every client gets
	// all of them.
	AppStreamPath = "/apps/{source_id}/stream"
)

// Causes of the drops a Handler counts.
const (
	// CauseSlowConsumer: the client did not take a message within the
	// slow consumer timeout; the stream is closed.
	CauseSlowConsumer = "slow_consumer"
	// CauseClientGone: the client went away while a message was written.
	CauseClientGone = serve.CauseClientGone
	// CauseMalformed: a v2 envelope from the subscription did not decode.
	CauseMalformed = stats.CauseMalformed
)

// ErrClosed is reported (503) to requests after Shutdown or Close.
var ErrClosed = errors.New("firehose: closed")

// Handler is an http.Handler for the v1 websocket firehose of Loggregator's
// traffic controller: GET /firehose/{subscription_id} and GET
// /apps/{source_id}/stream upgrade to a websocket that carries each
// envelope as a binary message holding a marshaled dropsonde
// events.Envelope (FromV2 of the v2 envelope). See the package doc.
type Handler struct {
	sub serve.Subscriber
	cfg config
	mux *http.ServeMux

	mu       sync.Mutex
	draining bool
	streams  map[*stream]struct{}
	handlers sync.WaitGroup
	st       Stats
}

type stream struct {
	cancel context.CancelFunc
	conn   *websocket.Conn
}

// Stats is a snapshot of a Handler's counters.
type Stats struct {
	// Streams is the number of websocket streams open now.
	Streams int
	// RejectedStreams (`rejected_streams`) counts requests refused before
	// the upgrade: wrong method or path, refused authorization, a failed
	// subscribe or upgrade, a closing Handler.
	RejectedStreams uint64
	// Egress (`egress`) counts v1 envelopes written to clients.
	Egress uint64
	// SlowConsumers (`slow_consumer`) counts streams closed because the
	// client did not keep up.
	SlowConsumers uint64
	// Dropped (`dropped{direction=egress}`) counts v2 envelopes read from a
	// subscription but not delivered, by cause (CauseSlowConsumer,
	// CauseClientGone, CauseMalformed). v2 envelopes v1 cannot carry are
	// not drops: they are counted in Skipped.
	Dropped stats.Drops
	// Skipped counts v2 envelopes v1 cannot carry (FromV2 gives nothing:
	// a gauge with a nil metric, an envelope without a message; events are
	// not asked for).
	Skipped uint64
}

// NewHandler returns a Handler that subscribes through s (a serve.Router,
// or a proxy's fan-in).
func NewHandler(s serve.Subscriber, opts ...Option) (*Handler, error) {
	if s == nil {
		return nil, fmt.Errorf("%w: nil Subscriber", ErrInvalidConfig)
	}
	cfg := defaultConfig()
	for _, o := range opts {
		if o != nil {
			o.apply(&cfg)
		}
	}
	if cfg.slowConsumer <= 0 || cfg.keepalive <= 0 {
		return nil, fmt.Errorf("%w: slow consumer timeout and keepalive must be positive", ErrInvalidConfig)
	}
	h := &Handler{sub: s, cfg: cfg, streams: make(map[*stream]struct{})}
	h.mux = http.NewServeMux()
	h.mux.HandleFunc("GET "+FirehosePath, func(w http.ResponseWriter, r *http.Request) {
		h.serve(w, r, r.PathValue("subscription_id"), "")
	})
	h.mux.HandleFunc("GET "+AppStreamPath, func(w http.ResponseWriter, r *http.Request) {
		h.serve(w, r, "", r.PathValue("source_id"))
	})
	return h, nil
}

// ServeHTTP serves the two paths; anything else is 404 (405 for another
// method than GET), counted as rejected.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if _, pattern := h.mux.Handler(r); pattern == "" {
		h.reject()
	}
	h.mux.ServeHTTP(w, r)
}

// request is the egress request of a stream: every envelope type v1 can
// carry (not events), of every source ID (firehose, shard ID subID) or of
// one (an app stream, a group of its own), with preferred tags.
func request(subID, sourceID string) *envelope.EgressBatchRequest {
	return &envelope.EgressBatchRequest{ShardId: subID, UsePreferredTags: true, Selectors: []*envelope.Selector{
		{SourceId: sourceID, Message: &envelope.Selector_Log{Log: &envelope.LogSelector{}}},
		{SourceId: sourceID, Message: &envelope.Selector_Counter{Counter: &envelope.CounterSelector{}}},
		{SourceId: sourceID, Message: &envelope.Selector_Gauge{Gauge: &envelope.GaugeSelector{}}},
		{SourceId: sourceID, Message: &envelope.Selector_Timer{Timer: &envelope.TimerSelector{}}},
	}}
}

func (h *Handler) serve(w http.ResponseWriter, r *http.Request, subID, sourceID string) {
	req := authz.Request{ShardID: subID, Firehose: sourceID == ""}
	if sourceID != "" {
		req.SourceIDs = []string{sourceID}
	}
	if err := h.cfg.authorizer.Authorize(r.Context(), authz.FromHTTP(r), req); err != nil {
		h.reject()
		code := http.StatusServiceUnavailable
		switch {
		case errors.Is(err, authz.ErrUnauthenticated):
			code = http.StatusUnauthorized
		case errors.Is(err, authz.ErrDenied):
			code = http.StatusForbidden
		}
		http.Error(w, err.Error(), code)
		return
	}
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	st := &stream{cancel: cancel}
	h.mu.Lock()
	if h.draining {
		h.mu.Unlock()
		h.reject()
		http.Error(w, ErrClosed.Error(), http.StatusServiceUnavailable)
		return
	}
	h.streams[st] = struct{}{}
	h.handlers.Add(1)
	h.mu.Unlock()
	defer func() {
		h.mu.Lock()
		delete(h.streams, st)
		h.mu.Unlock()
		h.handlers.Done()
	}()

	sub, err := h.sub.Subscribe(ctx, request(subID, sourceID))
	if err != nil {
		h.reject()
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	defer sub.Close()
	up := websocket.Upgrader{CheckOrigin: h.cfg.checkOrigin}
	conn, err := up.Upgrade(w, r, nil)
	if err != nil {
		h.reject() // Upgrade has answered the client
		return
	}
	defer conn.Close()
	h.mu.Lock()
	st.conn = conn
	h.mu.Unlock()

	// The reader: pongs and the client's close; its end ends the stream.
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		defer cancel()
		conn.SetReadLimit(512)
		for {
			if _, _, err := conn.NextReader(); err != nil {
				return
			}
		}
	}()
	// Keepalive pings (WriteControl may run beside the writer).
	pingDone := make(chan struct{})
	go func() {
		defer close(pingDone)
		t := time.NewTicker(h.cfg.keepalive)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(h.cfg.slowConsumer)) != nil {
					cancel()
					return
				}
			}
		}
	}()
	h.write(ctx, conn, sub)
	cancel()
	_ = conn.Close() // ends the reader
	<-readDone
	<-pingDone
}

// write moves envelopes from sub to the client until ctx ends or the
// client fails, then sends a close frame.
func (h *Handler) write(ctx context.Context, conn *websocket.Conn, sub serve.Subscription) {
	closeCode, closeText := websocket.CloseNormalClosure, ""
	for {
		b, err := sub.Next(ctx)
		if err != nil {
			break
		}
		var e envelope.Envelope
		if err := proto.Unmarshal(b, &e); err != nil {
			h.count(func(s *Stats) { s.Dropped.Add(CauseMalformed, 1) })
			continue
		}
		v1 := dropsonde.FromV2(&e)
		if len(v1) == 0 {
			h.count(func(s *Stats) { s.Skipped++ })
			continue
		}
		for _, ev := range v1 {
			msg, err := proto.Marshal(ev)
			if err != nil {
				h.count(func(s *Stats) { s.Dropped.Add(CauseMalformed, 1) })
				continue
			}
			_ = conn.SetWriteDeadline(time.Now().Add(h.cfg.slowConsumer))
			if err := conn.WriteMessage(websocket.BinaryMessage, msg); err != nil {
				var ne interface{ Timeout() bool }
				if errors.As(err, &ne) && ne.Timeout() {
					h.count(func(s *Stats) { s.SlowConsumers++; s.Dropped.Add(CauseSlowConsumer, 1) })
					h.cfg.logger.Warn("firehose: slow consumer closed", "remote", conn.RemoteAddr().String())
				} else {
					h.count(func(s *Stats) { s.Dropped.Add(CauseClientGone, 1) })
				}
				return
			}
			h.count(func(s *Stats) { s.Egress++ })
		}
	}
	if ctx.Err() != nil {
		h.mu.Lock()
		if h.draining {
			closeCode, closeText = websocket.CloseGoingAway, "server shutting down"
		}
		h.mu.Unlock()
	}
	_ = conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(closeCode, closeText), time.Now().Add(time.Second))
}

func (h *Handler) count(f func(*Stats)) {
	h.mu.Lock()
	f(&h.st)
	h.mu.Unlock()
}

func (h *Handler) reject() { h.count(func(s *Stats) { s.RejectedStreams++ }) }

// Stats returns a snapshot of the counters.
func (h *Handler) Stats() Stats {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := h.st
	s.Streams = len(h.streams)
	s.Dropped = h.st.Dropped.Clone()
	return s
}

// Shutdown refuses new requests (503) and ends every stream with a close
// frame (going away), then waits for the handlers to return. What a
// subscription still holds is discarded (and counted by the Subscriber).
// When ctx ends first it closes at once and returns ctx's error. Safe to
// call twice.
func (h *Handler) Shutdown(ctx context.Context) error {
	h.mu.Lock()
	h.draining = true
	for st := range h.streams {
		st.cancel()
	}
	h.mu.Unlock()
	done := make(chan struct{})
	go func() {
		h.handlers.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		_ = h.Close()
		return ctx.Err()
	}
}

// Close refuses new requests, ends every stream at once (closing its
// connection) and waits for the handlers to return. Safe to call twice.
func (h *Handler) Close() error {
	h.mu.Lock()
	h.draining = true
	for st := range h.streams {
		st.cancel()
		if st.conn != nil {
			_ = st.conn.NetConn().SetDeadline(time.Now())
		}
	}
	h.mu.Unlock()
	h.handlers.Wait()
	return nil
}
