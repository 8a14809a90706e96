package nozzle

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"google.golang.org/protobuf/encoding/protojson"

	"github.com/sluicelog/sluice/envelope"
	"github.com/sluicelog/sluice/internal/backoff"
	"github.com/sluicelog/sluice/internal/tlswatch"
)

// GatewayReader reads the HTTP gateway's GET /v2/read server-sent-events
// stream (Loggregator's reverse log proxy gateway format): each
// `data:` event is an EnvelopeBatch in protojson, `event: heartbeat` keeps an
// idle stream alive and `event: closing` announces the server's end of the
// stream. It reconnects with backoff (at once after a closing event) until
// Close or Shutdown.
//
// Batches are decoded in the order they arrive, on the one goroutine that
// reads the stream, so envelopes reach the consumer in the server's order
// (Loggregator's gateway client decodes each batch on its own goroutine and
// loses it). Next, TryNext and the iterator are one consumer.
type GatewayReader struct {
	cfg    config
	url    string
	client *http.Client
	out    *outlet[*envelope.Envelope]

	connected  atomic.Bool
	received   atomic.Uint64
	batches    atomic.Uint64
	malformed  atomic.Uint64
	reconnects atomic.Uint64
	heartbeats atomic.Uint64
	closings   atomic.Uint64
	lastErr    errRecord
}

// NewGatewayReader starts reading base (the gateway's URL, e.g.
// "https://gateway.example.com"; /v2/read is appended unless base already
// ends with it) with the query that GatewayQuery builds from req. It returns
// an error wrapping ErrInvalidConfig for a bad URL or a request that asks for
// nothing.
//
// It reads WithTLS, WithHTTPClient, WithLogger, WithBufferSize, WithBackoff
// and WithSlowConsumer. With its own HTTP client (no WithHTTPClient) it
// counts and logs failed TLS handshakes with the gateway as Reader does with
// routers (Stats.TLSFailures).
func NewGatewayReader(base string, req *envelope.EgressBatchRequest, opts ...GatewayOption) (*GatewayReader, error) {
	cfg, err := buildConfig(opts, GatewayOption.applyGateway)
	if err != nil {
		return nil, err
	}
	cfg.tlsWatch = tlswatch.NewClient("nozzle", "gateway", cfg.logger)
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, invalid("gateway URL %q: want http(s)://host[:port][/path]", base)
	}
	q, err := GatewayQuery(req)
	if err != nil {
		return nil, err
	}
	if !strings.HasSuffix(u.Path, "/v2/read") {
		u.Path = strings.TrimSuffix(u.Path, "/") + "/v2/read"
	}
	u.RawQuery = q.Encode()
	out, err := newOutlet[*envelope.Envelope](cfg.bufferSize, cfg.onSlow, cfg.structBytes())
	if err != nil {
		return nil, err
	}
	client := cfg.httpClient
	if client == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.TLSClientConfig = cfg.tls
		client = &http.Client{Transport: cfg.tlsWatch.HTTPTransport(tr)}
	}
	g := &GatewayReader{cfg: cfg, url: u.String(), client: client, out: out}
	out.start(func(ctx context.Context) {
		g.run(ctx)
		if cfg.httpClient == nil {
			client.CloseIdleConnections()
		}
	})
	return g, nil
}

// GatewayQuery returns the /v2/read query for req: shard_id,
// deterministic_name, source_id (repeated), the kinds (log, counter, gauge,
// timer, event), counter.name and gauge.name. The gateway's query can only
// say "these kinds from these sources", so for selectors that are not such a
// cross product it asks for the smallest query that covers them all: every
// kind and source named by any selector (no source_id when one selector has
// none), and counter.name or gauge.name only when all selectors of that kind
// agree on it.
func GatewayQuery(req *envelope.EgressBatchRequest) (url.Values, error) {
	if req == nil {
		return nil, invalid("nil request")
	}
	sels, err := envelope.RequestSelectors(req)
	if err != nil {
		return nil, invalid("%w", err)
	}
	q := url.Values{}
	if req.GetShardId() != "" {
		q.Set("shard_id", req.GetShardId())
	}
	if req.GetDeterministicName() != "" {
		q.Set("deterministic_name", req.GetDeterministicName())
	}
	var sources []string
	allSources := false
	kinds := map[string]bool{}
	var counterNames, gaugeNames []string
	for _, s := range sels {
		if s.GetSourceId() == "" {
			allSources = true
		} else if !slices.Contains(sources, s.GetSourceId()) {
			sources = append(sources, s.GetSourceId())
		}
		switch {
		case s.GetLog() != nil:
			kinds["log"] = true
		case s.GetCounter() != nil:
			kinds["counter"] = true
			if n := s.GetCounter().GetName(); !slices.Contains(counterNames, n) {
				counterNames = append(counterNames, n)
			}
		case s.GetGauge() != nil:
			kinds["gauge"] = true
			if n := strings.Join(s.GetGauge().GetNames(), ","); !slices.Contains(gaugeNames, n) {
				gaugeNames = append(gaugeNames, n)
			}
		case s.GetTimer() != nil:
			kinds["timer"] = true
		case s.GetEvent() != nil:
			kinds["event"] = true
		}
	}
	if !allSources {
		q["source_id"] = sources
	}
	for _, k := range []string{"log", "counter", "gauge", "timer", "event"} {
		if kinds[k] {
			q.Set(k, "")
		}
	}
	if len(counterNames) == 1 && counterNames[0] != "" {
		q.Set("counter.name", counterNames[0])
	}
	if len(gaugeNames) == 1 && gaugeNames[0] != "" {
		q.Set("gauge.name", gaugeNames[0])
	}
	return q, nil
}

// URL returns the URL the reader requests.
func (g *GatewayReader) URL() string { return g.url }

func (g *GatewayReader) run(ctx context.Context) {
	attempt := 0
	for {
		closing, err := g.read(ctx, &attempt)
		g.connected.Store(false)
		if ctx.Err() != nil {
			return
		}
		delay := time.Duration(0)
		if closing && err == nil {
			// The server said it was ending the stream: come back at once.
		} else {
			if err == nil {
				err = errStreamEnded
			}
			g.lastErr.set(err)
			g.cfg.logger.Debug("nozzle: gateway stream failed, reconnecting", "url", g.url, "err", err, "attempt", attempt)
			delay = g.cfg.backoff.Delay(attempt)
			attempt++
		}
		if !backoff.Sleep(ctx, delay) {
			return
		}
		g.reconnects.Add(1)
	}
}

// read reads one SSE stream until it ends. It reports whether the server
// announced the end with a closing event.
func (g *GatewayReader) read(ctx context.Context, attempt *int) (closing bool, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, g.url, nil)
	if err != nil {
		return false, err
	}
	req.Header.Set("Accept", "text/event-stream")
	resp, err := g.client.Do(req)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return false, fmt.Errorf("nozzle: gateway answered %s: %s", resp.Status, bytes.TrimSpace(body))
	}
	g.connected.Store(true)
	ev := sseReader{r: bufio.NewReaderSize(resp.Body, 64<<10)}
	for {
		name, data, err := ev.next()
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = nil
			}
			return closing, err
		}
		switch name {
		case "heartbeat":
			g.heartbeats.Add(1)
		case "closing":
			g.closings.Add(1)
			closing = true
		case "", "message":
			if len(data) == 0 {
				continue
			}
			*attempt = 0
			g.deliver(data)
		}
	}
}

var jsonOpts = protojson.UnmarshalOptions{DiscardUnknown: true}

func (g *GatewayReader) deliver(data []byte) {
	var b envelope.EnvelopeBatch
	if err := jsonOpts.Unmarshal(data, &b); err != nil {
		g.malformed.Add(1)
		g.cfg.logger.Warn("nozzle: malformed gateway batch dropped", "url", g.url, "err", err)
		return
	}
	g.batches.Add(1)
	g.received.Add(uint64(len(b.GetBatch())))
	for _, e := range b.GetBatch() {
		g.out.put(e)
	}
	g.out.check()
}

// sseReader splits a text/event-stream into events. Lines end with \n or
// \r\n; a blank line ends an event; data lines are joined with \n (as the
// SSE spec says); comments (":") and fields other than event and data are
// ignored.
type sseReader struct {
	r    *bufio.Reader
	line []byte
	data []byte
}

func (s *sseReader) readLine() ([]byte, error) {
	s.line = s.line[:0]
	for {
		chunk, err := s.r.ReadSlice('\n')
		s.line = append(s.line, chunk...)
		if err == bufio.ErrBufferFull {
			continue
		}
		if err != nil {
			if err == io.EOF && len(s.line) > 0 {
				return nil, io.ErrUnexpectedEOF
			}
			return nil, err
		}
		l := s.line[:len(s.line)-1]
		return bytes.TrimSuffix(l, []byte{'\r'}), nil
	}
}

// next returns the next event's name and data (valid until the next call).
func (s *sseReader) next() (string, []byte, error) {
	name := ""
	s.data = s.data[:0]
	hasData := false
	for {
		l, err := s.readLine()
		if err != nil {
			return "", nil, err
		}
		if len(l) == 0 {
			if name == "" && !hasData {
				continue // stray blank line
			}
			return name, s.data, nil
		}
		if l[0] == ':' {
			continue
		}
		field, value, _ := bytes.Cut(l, []byte{':'})
		value = bytes.TrimPrefix(value, []byte{' '})
		switch string(field) {
		case "event":
			name = string(value)
		case "data":
			if hasData {
				s.data = append(s.data, '\n')
			}
			s.data = append(s.data, value...)
			hasData = true
		}
	}
}

// Envelopes returns an iterator over the envelopes in the server's order,
// with Reader.Envelopes' rules.
func (g *GatewayReader) Envelopes(ctx context.Context) iter.Seq2[*envelope.Envelope, error] {
	return g.out.seq(ctx, func(e *envelope.Envelope) (*envelope.Envelope, error) { return e, nil })
}

// Next returns the next envelope, waiting while there is none, with
// Reader.Next's rules (the gateway's JSON is decoded already, so a
// GatewayReader hands out envelopes, not wire bytes).
func (g *GatewayReader) Next(ctx context.Context) (*envelope.Envelope, error) { return g.out.next(ctx) }

// TryNext returns the next envelope, or false at once.
func (g *GatewayReader) TryNext() (*envelope.Envelope, bool) { return g.out.tryNext() }

// Stats returns a snapshot of the counters.
func (g *GatewayReader) Stats() Stats {
	err, at := g.lastErr.get()
	ss := StreamStats{
		Key: g.url, Addr: g.url, Connected: g.connected.Load(),
		Received: g.received.Load(), Batches: g.batches.Load(), Malformed: g.malformed.Load(),
		Reconnects: g.reconnects.Load(), Heartbeats: g.heartbeats.Load(), Closings: g.closings.Load(),
		LastError: err, LastErrorAt: at,
	}
	st := Stats{Received: ss.Received, Malformed: ss.Malformed, Reconnects: ss.Reconnects,
		LastError: err, LastErrorAt: at, Streams: []StreamStats{ss}, TLSFailures: g.cfg.tlsWatch.Failures()}
	if ss.Connected {
		st.Connected = 1
	}
	g.out.fill(&st)
	return st
}

// Close stops reading at once and discards what the buffer holds (counted).
// It is safe to call more than once.
func (g *GatewayReader) Close() error { return g.out.closeNow() }

// Shutdown stops reading and lets the consumer drain the buffer, with
// Reader.Shutdown's rules.
func (g *GatewayReader) Shutdown(ctx context.Context) error { return g.out.shutdown(ctx) }
