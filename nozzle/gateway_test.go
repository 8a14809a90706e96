package nozzle_test

import (
	"fmt"
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

	"github.com/sluicelog/sluice/envelope"
	"github.com/sluicelog/sluice/internal/testtls"
	"github.com/sluicelog/sluice/nozzle"
)

// fakeGateway is a stand-in for /v2/read: each connection sends the next
// perConn batches of one numbered envelope each (as multi-line data when
// multiline is set), a heartbeat every 100 batches, then a closing event,
// and ends the stream.
type fakeGateway struct {
	t         *testing.T
	perConn   int
	multiline bool

	mu      sync.Mutex
	next    int
	queries []url.Values
}

func (g *fakeGateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/v2/read" {
		http.NotFound(w, r)
		return
	}
	g.mu.Lock()
	g.queries = append(g.queries, r.URL.Query())
	first := g.next
	g.next += g.perConn
	g.mu.Unlock()
	w.Header().Set("Content-Type", "text/event-stream")
	fl := w.(http.Flusher)
	opts := protojson.MarshalOptions{Multiline: g.multiline}
	for i := first; i < first+g.perConn; i++ {
		b, err := opts.Marshal(&envelope.EnvelopeBatch{Batch: []*envelope.Envelope{
			envelope.NewLog("gw", fmt.Appendf(nil, "%d", i), envelope.WithTag("k", "v")),
		}})
		if err != nil {
			g.t.Error(err)
			return
		}
		for _, line := range strings.Split(string(b), "\n") {
			fmt.Fprintf(w, "data: %s\n", line)
		}
		fmt.Fprint(w, "\n")
		if i%100 == 0 {
			fmt.Fprint(w, ": a comment\nevent: heartbeat\ndata: {}\n\n")
			fl.Flush()
		}
	}
	fmt.Fprint(w, "event: closing\ndata: closing\n\n")
	fl.Flush()
}

func TestGatewayReaderKeepsOrderAcrossReconnects(t *testing.T) {
	ca, _, _ := testtls.Must(t)
	gw := &fakeGateway{t: t, perConn: 2500}
	srv := httptest.NewUnstartedServer(gw)
	var err error
	srv.TLS, err = ca.ServerConfig(false)
	require.NoError(t, err)
	srv.StartTLS()
	defer srv.Close()
	clientTLS, err := ca.ClientConfig()
	require.NoError(t, err)

	g, err := nozzle.NewGatewayReader(srv.URL, logRequest("gw-shard"), nozzle.WithTLS(clientTLS), nozzle.WithBufferSize(20000))
	require.NoError(t, err)
	ctx := testCtx(t)
	n := 0
	for e, err := range g.Envelopes(ctx) {
		require.NoError(t, err)
		require.Equal(t, fmt.Sprint(n), string(e.GetLog().GetPayload()))
		require.Equal(t, "v", e.GetTags()["k"])
		n++
		if n == 10000 {
			break
		}
	}
	require.NoError(t, g.Close())
	st := g.Stats()
	assert.Equal(t, uint64(10000), st.Delivered)
	assert.Empty(t, st.Dropped)
	assert.Zero(t, st.Malformed)
	assert.GreaterOrEqual(t, st.Reconnects, uint64(3))
	require.Len(t, st.Streams, 1)
	assert.GreaterOrEqual(t, st.Streams[0].Closings, uint64(3))
	assert.GreaterOrEqual(t, st.Streams[0].Heartbeats, uint64(75))
	assert.NoError(t, st.LastError, "closing events are not errors")
	gw.mu.Lock()
	defer gw.mu.Unlock()
	assert.Equal(t, "gw-shard", gw.queries[0].Get("shard_id"))
	assert.True(t, gw.queries[0].Has("log"))
}

func TestGatewayReaderJoinsMultilineData(t *testing.T) {
	gw := &fakeGateway{t: t, perConn: 10, multiline: true}
	srv := httptest.NewServer(gw)
	defer srv.Close()
	g, err := nozzle.NewGatewayReader(srv.URL+"/v2/read", logRequest(""))
	require.NoError(t, err)
	defer g.Close()
	ctx := testCtx(t)
	for i := range 10 {
		e, err := g.Next(ctx)
		require.NoError(t, err)
		assert.Equal(t, fmt.Sprint(i), string(e.GetLog().GetPayload()))
	}
	assert.Zero(t, g.Stats().Malformed)
}

func TestGatewayReaderRetriesErrors(t *testing.T) {
	var calls sync.WaitGroup
	calls.Add(3)
	var mu sync.Mutex
	n := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		n++
		if n <= 3 {
			defer calls.Done()
		}
		mu.Unlock()
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprint(w, `{"error":"empty_query","message":"query cannot be empty"}`)
	}))
	defer srv.Close()
	g, err := nozzle.NewGatewayReader(srv.URL, logRequest(""), nozzle.WithBackoff(time.Millisecond, 5*time.Millisecond))
	require.NoError(t, err)
	calls.Wait()
	require.NoError(t, g.Close())
	st := g.Stats()
	require.Error(t, st.LastError)
	assert.Contains(t, st.LastError.Error(), "400")
	assert.Contains(t, st.LastError.Error(), "query cannot be empty")
	assert.GreaterOrEqual(t, st.Reconnects, uint64(2))
}

func TestGatewayQuery(t *testing.T) {
	log := &envelope.Selector_Log{Log: &envelope.LogSelector{}}
	counter := func(n string) *envelope.Selector_Counter {
		return &envelope.Selector_Counter{Counter: &envelope.CounterSelector{Name: n}}
	}
	gauge := func(n ...string) *envelope.Selector_Gauge {
		return &envelope.Selector_Gauge{Gauge: &envelope.GaugeSelector{Names: n}}
	}
	tests := []struct {
		name string
		req  *envelope.EgressBatchRequest
		want string
	}{
		{"shard and log", &envelope.EgressBatchRequest{ShardId: "s", Selectors: []*envelope.Selector{{Message: log}}}, "log=&shard_id=s"},
		{"cross product", &envelope.EgressBatchRequest{DeterministicName: "d", Selectors: []*envelope.Selector{
			{SourceId: "a", Message: log}, {SourceId: "b", Message: log},
			{SourceId: "a", Message: counter("c")}, {SourceId: "b", Message: counter("c")},
		}}, "counter=&counter.name=c&deterministic_name=d&log=&source_id=a&source_id=b"},
		{"one selector without source widens", &envelope.EgressBatchRequest{Selectors: []*envelope.Selector{
			{SourceId: "a", Message: log}, {Message: gauge("cpu", "mem")},
		}}, "gauge=&gauge.name=cpu%2Cmem&log="},
		{"disagreeing names are dropped", &envelope.EgressBatchRequest{Selectors: []*envelope.Selector{
			{Message: counter("x")}, {Message: counter("y")},
			{Message: &envelope.Selector_Timer{Timer: &envelope.TimerSelector{}}},
			{Message: &envelope.Selector_Event{Event: &envelope.EventSelector{}}},
		}}, "counter=&event=&timer="},
		{"legacy selector", &envelope.EgressBatchRequest{LegacySelector: &envelope.Selector{SourceId: "z", Message: log}}, "log=&source_id=z"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q, err := nozzle.GatewayQuery(tt.req)
			require.NoError(t, err)
			assert.Equal(t, tt.want, q.Encode())
		})
	}
	_, err := nozzle.GatewayQuery(&envelope.EgressBatchRequest{})
	require.ErrorIs(t, err, envelope.ErrNoSelectors)
	_, err = nozzle.NewGatewayReader("ftp://x", logRequest(""))
	require.ErrorIs(t, err, nozzle.ErrInvalidConfig)
}
