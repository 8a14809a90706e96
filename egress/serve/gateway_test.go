package serve

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/sluicelog/sluice/egress/authz"
	"github.com/sluicelog/sluice/envelope"
)

// gatewayTestEvent is one server-sent event.
type gatewayTestEvent struct {
	event, data string
}

// gatewayTestEvents reads events from an SSE body until it ends.
func gatewayTestEvents(body io.Reader) <-chan gatewayTestEvent {
	out := make(chan gatewayTestEvent, 100)
	go func() {
		defer close(out)
		sc := bufio.NewScanner(body)
		sc.Buffer(nil, 1<<20)
		var ev gatewayTestEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				out <- ev
				ev = gatewayTestEvent{}
			case strings.HasPrefix(line, "event: "):
				ev.event = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				ev.data = strings.TrimPrefix(line, "data: ")
			}
		}
	}()
	return out
}

func gatewayTestStart(t *testing.T, sub Subscriber, opts ...GatewayOption) (*Gateway, *httptest.Server) {
	t.Helper()
	gw, err := NewGateway(sub, opts...)
	require.NoError(t, err)
	ts := httptest.NewServer(gw)
	t.Cleanup(func() {
		_ = gw.Close()
		ts.CloseClientConnections()
		ts.Close()
	})
	return gw, ts
}

func gatewayTestGet(t *testing.T, ctx context.Context, url string) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func gatewayTestNext(t *testing.T, evs <-chan gatewayTestEvent, skipHeartbeats bool) gatewayTestEvent {
	t.Helper()
	for {
		select {
		case ev, ok := <-evs:
			require.True(t, ok, "stream ended")
			if skipHeartbeats && ev.event == "heartbeat" {
				continue
			}
			return ev
		case <-time.After(20 * time.Second):
			t.Fatal("no event")
		}
	}
}

func TestGatewayFrames(t *testing.T) {
	r := routerTestNew(t)
	gw, ts := gatewayTestStart(t, r)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	resp := gatewayTestGet(t, ctx, ts.URL+"/v2/read?source_id=app&log&counter.name=requests&shard_id=s")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "text/event-stream", resp.Header.Get("Content-Type"))
	serverTestWaitSubs(t, r, 1)

	want := []*envelope.Envelope{
		envelope.NewLog("app", []byte("hello"), envelope.WithInstanceID("3")),
		envelope.NewCounter("app", "requests", 2),
	}
	require.NoError(t, r.PublishEnvelope(envelope.NewCounter("app", "other", 1)))
	require.NoError(t, r.PublishEnvelope(envelope.NewLog("elsewhere", nil)))
	for _, e := range want {
		require.NoError(t, r.PublishEnvelope(e))
	}
	evs := gatewayTestEvents(resp.Body)
	var got []*envelope.Envelope
	for len(got) < len(want) {
		ev := gatewayTestNext(t, evs, true)
		require.Empty(t, ev.event)
		assert.Contains(t, ev.data, `"source_id"`, "snake_case names")
		assert.Contains(t, ev.data, `"batch"`)
		assert.NotContains(t, ev.data, `"sourceId"`)
		var b envelope.Batch
		require.NoError(t, protojson.Unmarshal([]byte(ev.data), &b))
		got = append(got, b.GetBatch()...)
	}
	require.Len(t, got, len(want))
	for i := range want {
		assert.True(t, proto.Equal(want[i], got[i]), "envelope %d: %v", i, got[i])
	}
	require.Eventually(t, func() bool { return gw.Stats().Egress == 2 }, 20*time.Second, time.Millisecond)
}

func TestGatewayHeartbeatAndClosing(t *testing.T) {
	r := routerTestNew(t)
	_, ts := gatewayTestStart(t, r, WithHeartbeat(20*time.Millisecond), WithStreamTimeout(2*time.Second))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	resp := gatewayTestGet(t, ctx, ts.URL+"/v2/read?log")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	evs := gatewayTestEvents(resp.Body)
	ev := gatewayTestNext(t, evs, false)
	assert.Equal(t, "heartbeat", ev.event)
	assert.NotEmpty(t, ev.data)
	// On its timeout the stream says so and ends.
	for ev = gatewayTestNext(t, evs, true); ev.event != "closing"; ev = gatewayTestNext(t, evs, true) {
	}
	assert.Equal(t, "closing due to stream timeout", ev.data)
	_, ok := <-evs
	assert.False(t, ok, "stream ends after closing")
	serverTestWaitSubs(t, r, 0)
}

func TestGatewayErrors(t *testing.T) {
	r := routerTestNew(t)
	gw, ts := gatewayTestStart(t, r, WithAuthorizer(authz.AuthorizerFunc(func(_ context.Context, _ authz.Identity, req authz.Request) error {
		for _, id := range req.SourceIDs {
			if id == "secret" {
				return fmt.Errorf("%w: source ID secret is not yours", authz.ErrDenied)
			}
		}
		if req.Firehose {
			return fmt.Errorf("%w: no firehose for you", authz.ErrDenied)
		}
		return nil
	})))
	tests := []struct {
		name, method, target string
		status               int
		code                 string
	}{
		{"empty query", http.MethodGet, "/v2/read", http.StatusBadRequest, "empty_query"},
		{"missing type", http.MethodGet, "/v2/read?source_id=app", http.StatusBadRequest, "missing_envelope_type"},
		{"wrong method", http.MethodPost, "/v2/read?log", http.StatusMethodNotAllowed, "method_not_allowed"},
		{"unknown path", http.MethodGet, "/v2/write?log", http.StatusNotFound, "not_found"},
		{"refused source ID", http.MethodGet, "/v2/read?log&source_id=app&source_id=secret", http.StatusForbidden, "forbidden"},
		{"refused firehose", http.MethodGet, "/v2/read?log", http.StatusForbidden, "forbidden"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(tt.method, ts.URL+tt.target, nil)
			require.NoError(t, err)
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			assert.Equal(t, tt.status, resp.StatusCode)
			// Loggregator's body: http.Error text holding a JSON object.
			assert.Equal(t, "text/plain; charset=utf-8", resp.Header.Get("Content-Type"))
			raw, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			assert.True(t, strings.HasSuffix(string(raw), "}\n\n"), "%q", raw)
			var body struct{ Error, Message string }
			require.NoError(t, json.Unmarshal(raw, &body))
			assert.Equal(t, tt.code, body.Error)
			assert.NotEmpty(t, body.Message)
		})
	}
	assert.Equal(t, uint64(len(tests)), gw.Stats().RejectedStreams)
	assert.Equal(t, 0, r.Stats().Subscriptions)
}

// TestGatewayDisconnect: a client that goes away leaves its group at once.
func TestGatewayDisconnect(t *testing.T) {
	r := routerTestNew(t)
	gw, ts := gatewayTestStart(t, r)
	ctx1, cancel1 := context.WithCancel(context.Background())
	defer cancel1()
	ctx2, cancel2 := context.WithCancel(context.Background())
	defer cancel2()
	gatewayTestGet(t, ctx1, ts.URL+"/v2/read?log&shard_id=g")
	gatewayTestGet(t, ctx2, ts.URL+"/v2/read?log&shard_id=g")
	serverTestWaitSubs(t, r, 2)
	cancel1()
	serverTestWaitSubs(t, r, 1)
	assert.Equal(t, 1, r.Stats().Shards["g"].Subscriptions)
	require.Eventually(t, func() bool { return gw.Stats().Streams == 1 }, 20*time.Second, time.Millisecond)
	cancel2()
	serverTestWaitSubs(t, r, 0)
}

func TestGatewayMaxStreams(t *testing.T) {
	r := routerTestNew(t)
	gw, ts := gatewayTestStart(t, r, WithMaxStreams(2))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	gatewayTestGet(t, ctx, ts.URL+"/v2/read?log&shard_id=a")
	gatewayTestGet(t, ctx, ts.URL+"/v2/read?log&shard_id=b")
	serverTestWaitSubs(t, r, 2)
	resp := gatewayTestGet(t, ctx, ts.URL+"/v2/read?log&shard_id=c")
	assert.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	assert.Equal(t, `{"message":"serve: at most 2 streams at once","error":"too_many_streams"}`+"\n\n", string(body))
	assert.Equal(t, uint64(1), gw.Stats().RejectedStreams)
	assert.Equal(t, 2, r.Stats().Subscriptions, "the refused request never subscribed")
	_, err = NewGateway(r, WithMaxStreams(0))
	assert.Error(t, err)
}

func TestGatewayShutdown(t *testing.T) {
	r := routerTestNew(t)
	gw, ts := gatewayTestStart(t, r)
	resp := gatewayTestGet(t, context.Background(), ts.URL+"/v2/read?log")
	serverTestWaitSubs(t, r, 1)
	evs := gatewayTestEvents(resp.Body)
	require.NoError(t, r.PublishEnvelope(envelope.NewLog("a", []byte("x"))))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	require.NoError(t, gw.Shutdown(ctx))
	require.NoError(t, gw.Shutdown(ctx), "twice")
	var data, closing int
	for ev := range evs {
		switch ev.event {
		case "":
			data++
		case "closing":
			closing++
			assert.Equal(t, "server shutting down", ev.data)
		}
	}
	assert.Equal(t, 1, data)
	assert.Equal(t, 1, closing)
	after, err := http.Get(ts.URL + "/v2/read?log")
	require.NoError(t, err)
	after.Body.Close()
	assert.Equal(t, http.StatusServiceUnavailable, after.StatusCode)
}

func TestGatewayQueryMapping(t *testing.T) {
	logSel := func(id string) *envelope.Selector {
		return &envelope.Selector{SourceId: id, Message: &envelope.Selector_Log{Log: &envelope.LogSelector{}}}
	}
	counter := func(id, name string) *envelope.Selector {
		return &envelope.Selector{SourceId: id, Message: &envelope.Selector_Counter{Counter: &envelope.CounterSelector{Name: name}}}
	}
	gauge := func(id string, names ...string) *envelope.Selector {
		return &envelope.Selector{SourceId: id, Message: &envelope.Selector_Gauge{Gauge: &envelope.GaugeSelector{Names: names}}}
	}
	tests := []struct {
		query string
		want  []*envelope.Selector
	}{
		{"log", []*envelope.Selector{logSel("")}},
		{"log&source_id=a&source_id=b", []*envelope.Selector{logSel("a"), logSel("b")}},
		// A comma is part of a counter name; each counter.name is a selector.
		{"counter.name=x,y&source_id=a", []*envelope.Selector{counter("a", "x,y")}},
		{"counter.name=x&counter.name=y&source_id=a", []*envelope.Selector{counter("a", "x"), counter("a", "y")}},
		// Each gauge.name is a selector for the names it lists.
		{"counter&gauge.name=cpu,mem", []*envelope.Selector{counter("", ""), gauge("", "cpu", "mem")}},
		{"gauge.name=cpu&gauge.name=mem", []*envelope.Selector{gauge("", "cpu"), gauge("", "mem")}},
		// source_id is taken as it is: no splitting; empty means every source ID.
		{"log&source_id=a,b", []*envelope.Selector{logSel("a,b")}},
		{"log&source_id=", []*envelope.Selector{logSel("")}},
		{"counter.name=", []*envelope.Selector{counter("", "")}},
		{"gauge.name=", []*envelope.Selector{gauge("", "")}},
		{"timer&event&gauge", []*envelope.Selector{
			gauge(""),
			{Message: &envelope.Selector_Timer{Timer: &envelope.TimerSelector{}}},
			{Message: &envelope.Selector_Event{Event: &envelope.EventSelector{}}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			q, err := url.ParseQuery(tt.query)
			require.NoError(t, err)
			req, _, gerr := gatewayRequest(q, false)
			require.Nil(t, gerr)
			assert.True(t, req.GetUsePreferredTags(), "Loggregator's gateway asks for preferred tags")
			require.Len(t, req.GetSelectors(), len(tt.want))
			for i := range tt.want {
				assert.True(t, proto.Equal(tt.want[i], req.GetSelectors()[i]), "selector %d: %v", i, req.GetSelectors()[i])
			}
		})
	}
	q, _ := url.ParseQuery("log&shard_id=s&deterministic_name=d")
	req, _, _ := gatewayRequest(q, false)
	assert.Equal(t, "s", req.GetShardId())
	assert.Equal(t, "d", req.GetDeterministicName())

	// Authorization sees the source IDs, or none when one selector reads
	// every source ID.
	for query, want := range map[string][]string{"log&source_id=a&source_id=b": {"a", "b"}, "log&source_id=a&source_id=": nil, "log": nil} {
		q, _ := url.ParseQuery(query)
		_, ids, gerr := gatewayRequest(q, false)
		require.Nil(t, gerr)
		assert.Equal(t, want, ids, query)
	}

	// WithStrictQuery refuses what selects oddly.
	for query, code := range map[string]string{
		"counter.name=":           "missing_counter_name",
		"gauge.name=cpu,":         "missing_gauge_name",
		"log&source_id=":          "invalid_source_id",
		"log&source_id=a&counter": "",
	} {
		q, _ := url.ParseQuery(query)
		_, _, gerr := gatewayRequest(q, true)
		if code == "" {
			assert.Nil(t, gerr, query)
			continue
		}
		require.NotNil(t, gerr, query)
		assert.Equal(t, code, gerr.Code, query)
		assert.Equal(t, http.StatusBadRequest, gerr.status, query)
	}
}

// gatewayTestStuck is a subscription whose Next ignores its context and
// Close, and returns only once release is closed: a handler reading it is
// stuck until then.
type gatewayTestStuck struct {
	release chan struct{}
	reading chan struct{} // closed when Next is first called
	once    sync.Once
	freed   sync.Once
}

func (s *gatewayTestStuck) free() { s.freed.Do(func() { close(s.release) }) }

func (s *gatewayTestStuck) Next(context.Context) ([]byte, error) {
	s.once.Do(func() { close(s.reading) })
	<-s.release
	return nil, ErrSubscriptionClosed
}
func (s *gatewayTestStuck) TryNext() ([]byte, bool) { return nil, false }
func (s *gatewayTestStuck) Close() error            { return nil }

// Close returns only once every handler has returned, and is idempotent.
func TestGatewayCloseWaitsForHandlers(t *testing.T) {
	stuck := &gatewayTestStuck{release: make(chan struct{}), reading: make(chan struct{})}
	gw, ts := gatewayTestStart(t, SubscriberFunc(func(context.Context, *envelope.EgressBatchRequest) (Subscription, error) {
		return stuck, nil
	}))
	t.Cleanup(stuck.free) // before the test server's Close, which waits for handlers
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	gatewayTestGet(t, ctx, ts.URL+"/v2/read?log")
	select {
	case <-stuck.reading:
	case <-time.After(20 * time.Second):
		t.Fatal("the handler never read its subscription")
	}
	closed := make(chan error, 1)
	go func() { closed <- gw.Close() }()
	select {
	case <-closed:
		t.Fatal("Close returned while a handler was still running")
	case <-time.After(100 * time.Millisecond): // bounds a negative check, orders nothing
	}
	stuck.free()
	select {
	case err := <-closed:
		require.NoError(t, err)
	case <-time.After(20 * time.Second):
		t.Fatal("Close did not return once the handler could")
	}
	assert.Zero(t, gw.Stats().Streams, "the handler has returned")
	require.NoError(t, gw.Close(), "twice")
	resp := gatewayTestGet(t, context.Background(), ts.URL+"/v2/read?log")
	assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode, "after Close")
}

// A client that stops reading is cut by the write timeout: its stream ends
// and its subscription closes, and every envelope routed to it is sent or
// counted (by the Gateway as client_gone, by the Router under its shard).
func TestGatewayWriteTimeoutCutsStalledClient(t *testing.T) {
	r := routerTestNew(t, WithGroupGrace(0))
	gw, ts := gatewayTestStart(t, r, WithWriteTimeout(200*time.Millisecond))
	conn, err := net.Dial("tcp", ts.Listener.Addr().String())
	require.NoError(t, err)
	defer conn.Close()
	// A raw request whose response is never read.
	_, err = fmt.Fprintf(conn, "GET /v2/read?log&shard_id=stalled HTTP/1.1\r\nHost: x\r\n\r\n")
	require.NoError(t, err)
	serverTestWaitSubs(t, r, 1)
	env := routerTestMarshal(t, envelope.NewLog("app", bytes.Repeat([]byte("x"), 1000)))
	published := uint64(0)
	require.Eventually(t, func() bool {
		for range 100 {
			if r.Publish(env) == nil {
				published++
			}
		}
		return gw.Stats().Streams == 0
	}, 20*time.Second, time.Millisecond, "the stalled client is cut")
	serverTestWaitSubs(t, r, 0)
	rs, gs := r.Stats(), gw.Stats()
	sh := rs.Shards["stalled"]
	assert.Equal(t, published, sh.Egress+rs.Unrouted, "published after the cut: unrouted")
	assert.Equal(t, sh.Egress, gs.Egress+gs.Dropped.Total()+sh.Dropped.Total(), "every envelope sent or counted")
}
