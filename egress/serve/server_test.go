package serve

import (
	"context"
	"crypto/tls"
	"io"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/sluicelog/sluice/envelope"
	"github.com/sluicelog/sluice/internal/testtls"
	"github.com/sluicelog/sluice/internal/wire"
)

// serverTestStart serves Egress from sub over mutual TLS on loopback and
// returns the server and a client connection.
func serverTestStart(t testing.TB, sub Subscriber, opts ...ServerOption) (*Server, *grpc.ClientConn) {
	t.Helper()
	_, serverTLS, clientTLS := testtls.Must(t)
	srv, err := NewServer(sub, append([]ServerOption{WithTLS(serverTLS)}, opts...)...)
	require.NoError(t, err)
	addr, err := srv.Start("127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = srv.Close() })
	cc := serverTestDial(t, addr.String(), clientTLS)
	return srv, cc
}

func serverTestDial(t testing.TB, addr string, cfg *tls.Config, opts ...grpc.DialOption) *grpc.ClientConn {
	t.Helper()
	cc, err := grpc.NewClient(addr, append([]grpc.DialOption{grpc.WithTransportCredentials(credentials.NewTLS(cfg))}, opts...)...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = cc.Close() })
	return cc
}

func serverTestWaitSubs(t testing.TB, r *Router, n int) {
	t.Helper()
	require.Eventually(t, func() bool { return r.Stats().Subscriptions == n }, 20*time.Second, time.Millisecond)
}

func serverTestLog(t testing.TB, i int) []byte {
	return routerTestMarshal(t, envelope.NewLog("app", []byte(strconv.Itoa(i))))
}

// TestServerMethods: Receiver and BatchedReceiver deliver, through sluice's
// raw clients and through stock generated clients (interop).
func TestServerMethods(t *testing.T) {
	r := routerTestNew(t)
	_, cc := serverTestStart(t, r)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	req := &envelope.EgressBatchRequest{Selectors: []*envelope.Selector{routerTestLogs("app")}}
	rawBatched, err := wire.OpenBatchedReceiver(ctx, cc, req)
	require.NoError(t, err)
	rawOne, err := wire.OpenReceiver(ctx, cc, &envelope.EgressRequest{Selectors: req.Selectors})
	require.NoError(t, err)
	stock := envelope.NewEgressClient(cc)
	stockBatched, err := stock.BatchedReceiver(ctx, req)
	require.NoError(t, err)
	// legacy_selector counts when selectors is empty.
	stockOne, err := stock.Receiver(ctx, &envelope.EgressRequest{LegacySelector: routerTestLogs("app")})
	require.NoError(t, err)
	serverTestWaitSubs(t, r, 4)

	const n = 250
	want := make([]string, n)
	for i := range n {
		want[i] = strconv.Itoa(i)
		require.NoError(t, r.Publish(serverTestLog(t, i)))
	}
	payloads := func(envs ...*envelope.Envelope) (out []string) {
		for _, e := range envs {
			out = append(out, string(e.GetLog().GetPayload()))
		}
		return out
	}

	var got []string
	for len(got) < n {
		var b wire.Batch
		require.NoError(t, rawBatched.RecvMsg(&b))
		require.NoError(t, b.Split())
		assert.LessOrEqual(t, len(b.Envelopes), DefaultBatchSize)
		for _, raw := range b.Envelopes {
			var e envelope.Envelope
			require.NoError(t, proto.Unmarshal(raw, &e))
			got = append(got, payloads(&e)...)
		}
	}
	assert.Equal(t, want, got, "raw BatchedReceiver")

	got = got[:0]
	for len(got) < n {
		var m wire.Envelope
		require.NoError(t, rawOne.RecvMsg(&m))
		var e envelope.Envelope
		require.NoError(t, proto.Unmarshal(m.Raw, &e))
		got = append(got, payloads(&e)...)
	}
	assert.Equal(t, want, got, "raw Receiver")

	got = got[:0]
	for len(got) < n {
		b, err := stockBatched.Recv()
		require.NoError(t, err)
		got = append(got, payloads(b.GetBatch()...)...)
	}
	assert.Equal(t, want, got, "stock BatchedReceiver")

	got = got[:0]
	for len(got) < n {
		e, err := stockOne.Recv()
		require.NoError(t, err)
		got = append(got, payloads(e)...)
	}
	assert.Equal(t, want, got, "stock Receiver")

	cancel()
	serverTestWaitSubs(t, r, 0)
}

func TestServerValidation(t *testing.T) {
	r := routerTestNew(t)
	srv, cc := serverTestStart(t, r, WithMaxStreams(1))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stock := envelope.NewEgressClient(cc)

	recvCode := func(s interface {
		Recv() (*envelope.EnvelopeBatch, error)
	}) codes.Code {
		_, err := s.Recv()
		return status.Code(err)
	}
	tests := []struct {
		name string
		req  *envelope.EgressBatchRequest
		msg  string
	}{
		{"no selectors", &envelope.EgressBatchRequest{ShardId: "x"}, "selectors cannot be empty"},
		{"selector without message", &envelope.EgressBatchRequest{Selectors: []*envelope.Selector{{SourceId: "a"}}}, "selector must name a message type"},
		{"legacy selector without message", &envelope.EgressBatchRequest{LegacySelector: &envelope.Selector{SourceId: "a"}}, "selector must name a message type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := stock.BatchedReceiver(ctx, tt.req)
			require.NoError(t, err)
			_, err = s.Recv()
			assert.Equal(t, codes.InvalidArgument, status.Code(err))
			assert.Contains(t, status.Convert(err).Message(), tt.msg)
		})
	}
	one, err := stock.Receiver(ctx, &envelope.EgressRequest{})
	require.NoError(t, err)
	_, err = one.Recv()
	assert.Equal(t, codes.InvalidArgument, status.Code(err), "Receiver validates too")

	// One stream at most: the second is ResourceExhausted.
	first, err := stock.BatchedReceiver(ctx, &envelope.EgressBatchRequest{Selectors: []*envelope.Selector{routerTestLogs("")}})
	require.NoError(t, err)
	serverTestWaitSubs(t, r, 1)
	second, err := stock.BatchedReceiver(ctx, &envelope.EgressBatchRequest{Selectors: []*envelope.Selector{routerTestLogs("")}})
	require.NoError(t, err)
	assert.Equal(t, codes.ResourceExhausted, recvCode(second))
	require.NoError(t, r.Publish(serverTestLog(t, 1)))
	b, err := first.Recv()
	require.NoError(t, err)
	assert.Len(t, b.GetBatch(), 1)

	st := srv.Stats()
	assert.Equal(t, uint64(5), st.RejectedStreams)
	assert.Equal(t, 1, st.Streams)
	assert.Equal(t, uint64(1), st.Egress)
}

func TestServerRequiresClientCertificate(t *testing.T) {
	r := routerTestNew(t)
	ca, serverTLS, _ := testtls.Must(t)
	srv, err := NewServer(r, WithTLS(serverTLS))
	require.NoError(t, err)
	addr, err := srv.Start("127.0.0.1:0")
	require.NoError(t, err)
	defer srv.Close()
	cc := serverTestDial(t, addr.String(), &tls.Config{RootCAs: ca.Pool(), ServerName: "localhost", MinVersion: tls.VersionTLS12})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := envelope.NewEgressClient(cc).BatchedReceiver(ctx, &envelope.EgressBatchRequest{Selectors: []*envelope.Selector{routerTestLogs("")}})
	if err == nil {
		_, err = s.Recv()
	}
	require.Error(t, err)
	assert.Equal(t, codes.Unavailable, status.Code(err))
}

// TestServerSlowSubscriber: a subscriber that stops reading has its own
// drops counted under its shard ID, while a subscriber on another shard ID
// receives everything.
func TestServerSlowSubscriber(t *testing.T) {
	r := routerTestNew(t, WithSubscriptionDiode(100), WithGroupGrace(0))
	// No send timeout: the slow client stays until it leaves (eviction has
	// its own test, TestServerEvictsStreamThatDoesNotRead).
	srv, cc := serverTestStart(t, r, WithSendTimeout(0))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	slowCtx, slowCancel := context.WithCancel(ctx)
	defer slowCancel()
	// The slow client never reads: once grpc's flow-control window is full,
	// the server's sends stall and its subscription's diode overflows.
	slow, err := wire.OpenBatchedReceiver(slowCtx, cc, &envelope.EgressBatchRequest{ShardId: "slow", Selectors: []*envelope.Selector{routerTestLogs("")}})
	require.NoError(t, err)
	defer slow.CloseSend() //nolint:errcheck
	fast, err := wire.OpenBatchedReceiver(ctx, cc, &envelope.EgressBatchRequest{ShardId: "fast", Selectors: []*envelope.Selector{routerTestLogs("")}})
	require.NoError(t, err)
	serverTestWaitSubs(t, r, 2)

	payload := make([]byte, 200)
	env := routerTestMarshal(t, envelope.NewLog("app", payload))
	const n, chunk = 20_000, 50
	received := 0
	for i := 0; i < n; i += chunk {
		for range chunk {
			require.NoError(t, r.Publish(env))
		}
		// Pace the publisher by the fast reader, so only the slow one drops.
		for received < i+chunk {
			var b wire.Batch
			require.NoError(t, fast.RecvMsg(&b))
			require.NoError(t, b.Split())
			received += len(b.Envelopes)
		}
	}
	assert.Equal(t, n, received)

	// The slow client leaves; what its subscription never delivered is
	// counted under its shard ID.
	slowCancel()
	serverTestWaitSubs(t, r, 1)
	require.Eventually(t, func() bool { return srv.Stats().Streams == 1 }, 20*time.Second, time.Millisecond)
	// The fast client can hold its last batch before the server's send
	// returns and is counted: the server's books close once it has.
	booksClose := func() bool {
		rs, ss := r.Stats(), srv.Stats()
		return ss.Egress+ss.DroppedByShard["slow"].Total()+rs.Shards["slow"].Dropped.Total() == 2*n
	}
	if !assert.Eventually(t, booksClose, 20*time.Second, time.Millisecond, "every envelope of the slow shard is sent or counted") {
		t.Logf("router %+v, server %+v", r.Stats(), srv.Stats())
	}
	rs, ss := r.Stats(), srv.Stats()
	assert.Equal(t, ShardStats{Subscriptions: 1, Egress: n}, rs.Shards["fast"])
	assert.Equal(t, uint64(n), rs.Shards["slow"].Egress)
	assert.Greater(t, rs.Shards["slow"].Dropped.Total(), uint64(n/2))
	assert.Empty(t, ss.DroppedByShard["fast"])
}

// TestServerShutdownFlushes: Shutdown sends what a stream holds, then ends it.
func TestServerShutdownFlushes(t *testing.T) {
	r := routerTestNew(t)
	srv, cc := serverTestStart(t, r, WithBatch(100, time.Hour))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s, err := envelope.NewEgressClient(cc).BatchedReceiver(ctx, &envelope.EgressBatchRequest{Selectors: []*envelope.Selector{routerTestLogs("")}})
	require.NoError(t, err)
	serverTestWaitSubs(t, r, 1)
	for i := range 5 {
		require.NoError(t, r.Publish(serverTestLog(t, i)))
	}
	// The server holds a partial batch (no flush for an hour) until Shutdown.
	sctx, scancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer scancel()
	require.NoError(t, srv.Shutdown(sctx))
	require.NoError(t, srv.Shutdown(sctx), "twice")
	got := 0
	for {
		b, err := s.Recv()
		if err != nil {
			assert.NotEqual(t, io.EOF, err)
			assert.Equal(t, codes.Unavailable, status.Code(err))
			break
		}
		got += len(b.GetBatch())
	}
	assert.Equal(t, 5, got)
	assert.Equal(t, uint64(5), srv.Stats().Egress)
	assert.Equal(t, 0, r.Stats().Subscriptions)
	_, err = srv.Start("127.0.0.1:0")
	require.ErrorIs(t, err, ErrServerClosed)
	require.NoError(t, srv.Close())
}

func TestServerLifecycleWithoutServe(t *testing.T) {
	r := routerTestNew(t)
	srv, err := NewServer(r)
	require.NoError(t, err)
	require.NoError(t, srv.Shutdown(context.Background()))
	require.NoError(t, srv.Close())
	require.NoError(t, srv.Close())
	assert.Nil(t, srv.Addr())
	_, err = NewServer(nil)
	require.Error(t, err)
	_, err = NewServer(r, WithMaxStreams(0))
	require.Error(t, err)
}

// TestServerFedBySubscriberFunc: anything that hands out Subscriptions can
// feed a Server (a proxy feeds it from a nozzle).
func TestServerFedBySubscriberFunc(t *testing.T) {
	r := routerTestNew(t)
	var seen *envelope.EgressBatchRequest
	sub := SubscriberFunc(func(ctx context.Context, req *envelope.EgressBatchRequest) (Subscription, error) {
		seen = req
		return r.Subscribe(ctx, req)
	})
	_, cc := serverTestStart(t, sub)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s, err := envelope.NewEgressClient(cc).Receiver(ctx, &envelope.EgressRequest{ShardId: "p", DeterministicName: "d", Selectors: []*envelope.Selector{routerTestLogs("")}})
	require.NoError(t, err)
	serverTestWaitSubs(t, r, 1)
	require.NoError(t, r.Publish(serverTestLog(t, 7)))
	e, err := s.Recv()
	require.NoError(t, err)
	assert.Equal(t, "7", string(e.GetLog().GetPayload()))
	assert.Equal(t, "p", seen.GetShardId())
	assert.Equal(t, "d", seen.GetDeterministicName())
}
