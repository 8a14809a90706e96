package firehose_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"

	"github.com/sluicelog/sluice/diode"
	"github.com/sluicelog/sluice/dropsonde"
	"github.com/sluicelog/sluice/dropsonde/events"
	"github.com/sluicelog/sluice/dropsonde/firehose"
	"github.com/sluicelog/sluice/dropsonde/plumbing"
	"github.com/sluicelog/sluice/egress/authz"
	"github.com/sluicelog/sluice/egress/serve"
	"github.com/sluicelog/sluice/envelope"
)

// sluiceRouter is a router as the router program composes it: a v1
// Ingestor into a diode, a serve.Router routing it, a serve.Server (v2
// Egress) on one gRPC server, and the websocket firehose over HTTP.
type sluiceRouter struct {
	cc     *grpc.ClientConn // to the gRPC server
	router *serve.Router
	fh     *firehose.Handler
	wsURL  string
}

func startRouter(t *testing.T, opts ...firehose.Option) *sluiceRouter {
	t.Helper()
	buf, err := diode.NewManyToOne[[]byte](10000)
	require.NoError(t, err)
	ing, err := dropsonde.NewIngestor(buf)
	require.NoError(t, err)
	router, err := serve.NewRouter()
	require.NoError(t, err)
	egress, err := serve.NewServer(router)
	require.NoError(t, err)
	gs := grpc.NewServer(serve.GRPCServerOption())
	ing.Register(gs)
	egress.Register(gs)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	served := make(chan struct{})
	go func() { defer close(served); _ = gs.Serve(lis) }()
	ctx, stop := context.WithCancel(context.Background())
	routed := make(chan struct{})
	go func() { defer close(routed); _ = router.Run(ctx, buf) }()

	fh, err := firehose.NewHandler(router, opts...)
	require.NoError(t, err)
	hs := httptest.NewServer(fh)
	cc, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	t.Cleanup(func() {
		cc.Close()
		_ = fh.Close()
		hs.Close()
		_ = egress.Close()
		gs.Stop()
		<-served
		stop()
		<-routed
		_ = router.Close()
		_ = ing.Close()
	})
	return &sluiceRouter{cc: cc, router: router, fh: fh, wsURL: "ws" + strings.TrimPrefix(hs.URL, "http")}
}

// push is the v1 emitter: a DopplerIngestor/Pusher client.
func (r *sluiceRouter) push(t *testing.T, envs ...*events.Envelope) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	st, err := plumbing.NewDopplerIngestorClient(r.cc).Pusher(ctx)
	require.NoError(t, err)
	for _, e := range envs {
		b, err := proto.Marshal(e)
		require.NoError(t, err)
		require.NoError(t, st.Send(&plumbing.EnvelopeData{Payload: b}))
	}
	_, err = st.CloseAndRecv()
	require.NoError(t, err)
}

func (r *sluiceRouter) waitSubs(t *testing.T, n int) {
	t.Helper()
	require.Eventually(t, func() bool { return r.router.Stats().Subscriptions == n }, 20*time.Second, time.Millisecond)
}

// dial opens a websocket firehose client on path.
func (r *sluiceRouter) dial(t *testing.T, path string) *websocket.Conn {
	t.Helper()
	conn, resp, err := websocket.DefaultDialer.Dial(r.wsURL+path, nil)
	require.NoError(t, err)
	resp.Body.Close()
	t.Cleanup(func() { conn.Close() })
	return conn
}

// read reads n binary messages and decodes them with the project's v1
// types.
func read(t *testing.T, conn *websocket.Conn, n int) []*events.Envelope {
	t.Helper()
	out := make([]*events.Envelope, 0, n)
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(20*time.Second)))
	for len(out) < n {
		typ, msg, err := conn.ReadMessage()
		require.NoError(t, err)
		require.Equal(t, websocket.BinaryMessage, typ)
		e, err := dropsonde.Decode(msg)
		require.NoError(t, err)
		out = append(out, e)
	}
	return out
}

// v1Emitted is the i-th envelope a v1 emitter sends: logs, counters and
// value metrics of one app, with every optional field set.
func v1Emitted(i int) *events.Envelope {
	e := &events.Envelope{
		Origin: proto.String("rep"), Timestamp: proto.Int64(int64(1000 + i)),
		Deployment: proto.String("cf"), Job: proto.String("diego-cell"), Index: proto.String("0"), Ip: proto.String("10.0.0.1"),
		Tags: map[string]string{"source_id": "app-guid", "space": "dev"},
	}
	switch i % 3 {
	case 0:
		e.EventType = events.Envelope_LogMessage.Enum()
		e.LogMessage = &events.LogMessage{
			Message: fmt.Appendf(nil, "line %d", i), MessageType: events.LogMessage_OUT.Enum(), Timestamp: proto.Int64(int64(1000 + i)),
			AppId: proto.String("app-guid"), SourceType: proto.String("APP/PROC/WEB"), SourceInstance: proto.String("1"),
		}
	case 1:
		e.EventType = events.Envelope_CounterEvent.Enum()
		e.Tags["instance_id"] = "1"
		e.CounterEvent = &events.CounterEvent{Name: proto.String("requests"), Delta: proto.Uint64(uint64(i)), Total: proto.Uint64(uint64(10 * i))}
	default:
		e.EventType = events.Envelope_ValueMetric.Enum()
		e.Tags["instance_id"] = "1"
		e.ValueMetric = &events.ValueMetric{Name: proto.String("latency"), Value: proto.Float64(float64(i) / 4), Unit: proto.String("ms")}
	}
	return e
}

// emitted returns the first n envelopes of v1Emitted.
func emitted(n int) []*events.Envelope {
	out := make([]*events.Envelope, n)
	for i := range out {
		out[i] = v1Emitted(i)
	}
	return out
}

// A v1 emitter through a sluice router reaches a v1 websocket firehose
// client and a v2 nozzle: the same count, and the same fields (the v1
// client gets what was sent, the v2 nozzle its v2 conversion).
func TestV1EmitterToV1FirehoseAndV2Nozzle(t *testing.T) {
	r := startRouter(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	v2, err := envelope.NewEgressClient(r.cc).BatchedReceiver(ctx, &envelope.EgressBatchRequest{
		ShardId: "v2-nozzle", UsePreferredTags: true,
		Selectors: []*envelope.Selector{
			{Message: &envelope.Selector_Log{Log: &envelope.LogSelector{}}},
			{Message: &envelope.Selector_Counter{Counter: &envelope.CounterSelector{}}},
			{Message: &envelope.Selector_Gauge{Gauge: &envelope.GaugeSelector{}}},
		},
	})
	require.NoError(t, err)
	ws := r.dial(t, "/firehose/v1-nozzle")
	app := r.dial(t, "/apps/app-guid/stream")
	r.waitSubs(t, 3)

	const n = 300
	sent := emitted(n)
	r.push(t, sent...)

	for name, conn := range map[string]*websocket.Conn{"firehose": ws, "app stream": app} {
		got := read(t, conn, n)
		for i := range sent {
			require.True(t, proto.Equal(sent[i], got[i]), "%s envelope %d:\nsent %v\ngot  %v", name, i, sent[i], got[i])
		}
	}
	var nozzle []*envelope.Envelope
	for len(nozzle) < n {
		b, err := v2.Recv()
		require.NoError(t, err)
		nozzle = append(nozzle, b.GetBatch()...)
	}
	require.Len(t, nozzle, n)
	for i := range sent {
		require.True(t, proto.Equal(dropsonde.ToV2(sent[i]), nozzle[i]), "v2 envelope %d: %v", i, nozzle[i])
	}
	require.Eventually(t, func() bool { return r.fh.Stats().Egress == 2*n }, 20*time.Second, time.Millisecond)
	assert.Equal(t, firehose.Stats{Streams: 2, Egress: 2 * n}, r.fh.Stats())
}

// Two websocket clients with the same subscription ID split the stream;
// a client with another ID gets all of it.
func TestFirehoseSubscriptionIDs(t *testing.T) {
	r := startRouter(t)
	a1 := r.dial(t, "/firehose/a")
	a2 := r.dial(t, "/firehose/a")
	b := r.dial(t, "/firehose/b")
	r.waitSubs(t, 3)
	const n = 200
	r.push(t, emitted(n)...)

	assert.Len(t, read(t, b, n), n, "another ID gets every envelope")
	// Round robin: each member of group a gets half, together all of them.
	got := append(read(t, a1, n/2), read(t, a2, n/2)...)
	seen := map[int64]bool{}
	for _, e := range got {
		seen[e.GetTimestamp()] = true
	}
	assert.Len(t, seen, n, "the group's members got distinct envelopes, all of them")
	require.Eventually(t, func() bool { return r.fh.Stats().Egress == 2*n }, 20*time.Second, time.Millisecond)
}

// A client that does not read is closed as a slow consumer and counted.
func TestFirehoseSlowConsumer(t *testing.T) {
	r := startRouter(t, firehose.WithSlowConsumerTimeout(100*time.Millisecond))
	conn := r.dial(t, "/firehose/slow")
	r.waitSubs(t, 1)
	// Never read: the socket buffers fill, then a write times out.
	big := v1Emitted(0)
	big.LogMessage.Message = []byte(strings.Repeat("x", 60000))
	for range 200 {
		r.push(t, big)
		if r.fh.Stats().SlowConsumers == 1 {
			break
		}
	}
	require.Eventually(t, func() bool { return r.fh.Stats().SlowConsumers == 1 }, 20*time.Second, 10*time.Millisecond)
	st := r.fh.Stats()
	assert.Equal(t, uint64(1), st.Dropped[firehose.CauseSlowConsumer])
	r.waitSubs(t, 0)
	_ = conn
}

// Authorization: the whole firehose and an app stream ask the authorizer for
// the firehose and for the app's source ID; refused requests get 403 and are
// counted.
func TestFirehoseAuthorization(t *testing.T) {
	r := startRouter(t, firehose.WithAuthorizer(authz.AuthorizerFunc(func(_ context.Context, _ authz.Identity, req authz.Request) error {
		if req.Firehose {
			return fmt.Errorf("%w: firehose needs an admin grant", authz.ErrDenied)
		}
		if req.SourceIDs[0] != "mine" {
			return fmt.Errorf("%w: not your app", authz.ErrDenied)
		}
		return nil
	})))
	for _, path := range []string{"/firehose/x", "/apps/theirs/stream"} {
		_, resp, err := websocket.DefaultDialer.Dial(r.wsURL+path, nil)
		require.Error(t, err)
		require.NotNil(t, resp)
		assert.Equal(t, http.StatusForbidden, resp.StatusCode, path)
		resp.Body.Close()
	}
	r.dial(t, "/apps/mine/stream")
	r.waitSubs(t, 1)
	resp, err := http.Post(strings.Replace(r.wsURL, "ws", "http", 1)+"/firehose/x", "text/plain", nil)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)
	assert.Equal(t, uint64(3), r.fh.Stats().RejectedStreams)
}

// The Handler pings an idle client every keepalive interval.
func TestFirehoseKeepalive(t *testing.T) {
	r := startRouter(t, firehose.WithKeepalive(20*time.Millisecond))
	conn := r.dial(t, "/firehose/k")
	pings := make(chan struct{}, 10)
	conn.SetPingHandler(func(string) error {
		select {
		case pings <- struct{}{}:
		default:
		}
		return nil
	})
	go func() {
		for {
			if _, _, err := conn.ReadMessage(); err != nil { // handles control frames
				return
			}
		}
	}()
	for range 3 {
		select {
		case <-pings:
		case <-time.After(20 * time.Second):
			t.Fatal("no ping")
		}
	}
}
