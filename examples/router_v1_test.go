package examples_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"

	"github.com/sluicelog/sluice/dropsonde"
	"github.com/sluicelog/sluice/dropsonde/events"
	"github.com/sluicelog/sluice/dropsonde/plumbing"
	"github.com/sluicelog/sluice/envelope"
	"github.com/sluicelog/sluice/internal/grpcserve"
)

// v1Log is the i-th v1 log a Loggregator agent would push.
func v1Log(i int) *events.Envelope {
	return &events.Envelope{
		Origin: proto.String("rep"), EventType: events.Envelope_LogMessage.Enum(), Timestamp: proto.Int64(int64(1000 + i)),
		Deployment: proto.String("cf"), Job: proto.String("diego-cell"), Index: proto.String("0"), Ip: proto.String("10.0.0.1"),
		LogMessage: &events.LogMessage{
			Message: fmt.Appendf(nil, "line %d", i), MessageType: events.LogMessage_OUT.Enum(), Timestamp: proto.Int64(int64(1000 + i)),
			AppId: proto.String("app-guid"), SourceType: proto.String("APP/PROC/WEB"), SourceInstance: proto.String("0"),
		},
	}
}

// The router program takes Loggregator's v1 ingress on its gRPC port: 100
// v1 logs pushed on /plumbing.DopplerIngestor/Pusher reach a v2 subscriber
// as the v2 envelopes Loggregator's conversion makes, a malformed payload is
// refused and counted, and the program's metrics say so. With -reflection
// the port answers grpc reflection.
func TestRouterProgramTakesV1(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the router program")
	}
	bin := buildSome(t, "router")
	router := startProgram(t, bin, "router", "-addr", "127.0.0.1:0", "-metrics-addr", "127.0.0.1:0", "-reflection", "-firehose-addr", "127.0.0.1:0")
	cc, err := grpc.NewClient(router.addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	defer cc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	// -reflection: grpc reflection lists (and describes) every service on
	// the port, as `grpcurl list` would.
	services, err := grpcserve.ReflectedServices(ctx, cc)
	require.NoError(t, err)
	assert.Equal(t, []string{
		"grpc.reflection.v1.ServerReflection", "grpc.reflection.v1alpha.ServerReflection",
		"loggregator.v2.Egress", "loggregator.v2.Ingress", "plumbing.DopplerIngestor",
	}, services)

	sub, err := envelope.NewEgressClient(cc).BatchedReceiver(ctx, &envelope.EgressBatchRequest{
		ShardId: "v1-test", UsePreferredTags: true,
		Selectors: []*envelope.Selector{{SourceId: "app-guid", Message: &envelope.Selector_Log{Log: &envelope.LogSelector{}}}},
	})
	require.NoError(t, err)
	// A v1 nozzle on the websocket firehose, an app's v1 stream.
	ws, resp, err := websocket.DefaultDialer.DialContext(ctx, "ws"+strings.TrimPrefix(router.v1FireURL, "http")+"/apps/app-guid/stream", nil)
	require.NoError(t, err)
	resp.Body.Close()
	defer ws.Close()
	require.Eventually(t, func() bool {
		return router.metric(t, "subscriptions", "component", "router") == 2
	}, 20*time.Second, 20*time.Millisecond, "never subscribed")

	const n = 100
	push, err := plumbing.NewDopplerIngestorClient(cc).Pusher(ctx)
	require.NoError(t, err)
	for i := range n {
		if i == n/2 {
			require.NoError(t, push.Send(&plumbing.EnvelopeData{Payload: []byte{0xff, 0xff}}))
		}
		b, err := proto.Marshal(v1Log(i))
		require.NoError(t, err)
		require.NoError(t, push.Send(&plumbing.EnvelopeData{Payload: b}))
	}
	_, err = push.CloseAndRecv()
	require.NoError(t, err)

	var got []*envelope.Envelope
	for len(got) < n {
		b, err := sub.Recv()
		require.NoError(t, err)
		got = append(got, b.GetBatch()...)
	}
	require.Len(t, got, n)
	for i, e := range got {
		want := dropsonde.ToV2(v1Log(i))
		require.True(t, proto.Equal(want, e), "envelope %d:\nwant %v\ngot  %v", i, want, e)
	}

	require.NoError(t, ws.SetReadDeadline(time.Now().Add(20*time.Second)))
	for i := range n {
		_, msg, err := ws.ReadMessage()
		require.NoError(t, err)
		got, err := dropsonde.Decode(msg)
		require.NoError(t, err)
		want := dropsonde.FromV2(dropsonde.ToV2(v1Log(i)))
		require.Len(t, want, 1)
		require.True(t, proto.Equal(want[0], got), "v1 envelope %d:\nwant %v\ngot  %v", i, want[0], got)
	}
	require.Eventually(t, func() bool {
		return router.metric(t, "egress", "component", "v1_firehose") == n
	}, 20*time.Second, 20*time.Millisecond)

	assert.Equal(t, float64(n), router.metric(t, "ingress", "component", "v1_ingestor"))
	assert.Equal(t, float64(1), router.metric(t, "rejected", "component", "v1_ingestor", "cause", "malformed"))
	assert.Equal(t, float64(0), router.metric(t, "ingress", "component", "ingress_server"))
	assert.Equal(t, float64(n), router.metric(t, "egress", "component", "egress_server"))
	cancel()
	router.stop(t)
}
