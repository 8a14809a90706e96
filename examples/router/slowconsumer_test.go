package main

import (
	"context"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/protobuf/proto"

	"github.com/sluicelog/sluice/egress/serve"
	"github.com/sluicelog/sluice/envelope"
	"github.com/sluicelog/sluice/ingress"
	"github.com/sluicelog/sluice/internal/testtls"
	"github.com/sluicelog/sluice/internal/wire"
	"github.com/sluicelog/sluice/limit"
)

// slowRig is the router program's envelope path in process, over real
// gRPC with mutual TLS on loopback: a fair ingress buffer of 10,000 whose
// streams wait up to 50 ms when it is full, the Router (subscription
// diodes of 1,000, Loggregator's; no group grace, so that a closed
// subscription's counts are final at once) run by Run, and the Egress
// server sending batches of 100.
type slowRig struct {
	in     *ingress.Server
	buf    *limit.Buffer
	router *serve.Router
	egress *serve.Server
	addr   string
	cc     *grpc.ClientConn // the senders'
	dial   func(t *testing.T) *grpc.ClientConn
}

const slowBatch = 100

func newSlowRig(t *testing.T) *slowRig {
	t.Helper()
	_, serverTLS, clientTLS := testtls.Must(t)
	buf, err := limit.NewBuffer(limit.BufferConfig{Policy: limit.PolicyFair, Size: 10000})
	require.NoError(t, err)
	in, err := ingress.NewServer(buf, ingress.WithTLS(serverTLS), ingress.WithWaitWhenFull(50*time.Millisecond))
	require.NoError(t, err)
	router, err := serve.NewRouter(serve.WithSubscriptionDiode(1000), serve.WithGroupGrace(0))
	require.NoError(t, err)
	egress, err := serve.NewServer(router, serve.WithTLS(serverTLS), serve.WithBatch(slowBatch, 100*time.Millisecond))
	require.NoError(t, err)
	gs := grpc.NewServer(in.GRPCServerOptions()...)
	in.Register(gs)
	egress.Register(gs)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = gs.Serve(lis)
	}()
	ctx, cancel := context.WithCancel(context.Background())
	routed := make(chan struct{})
	go func() {
		defer close(routed)
		_ = router.Run(ctx, buf)
	}()
	r := &slowRig{in: in, buf: buf, router: router, egress: egress, addr: lis.Addr().String()}
	// A fixed 64 KiB window (no estimation): a client that reads nothing
	// holds its stream's sender up after that much.
	r.dial = func(t *testing.T) *grpc.ClientConn {
		cc, err := grpc.NewClient(r.addr, grpc.WithTransportCredentials(credentials.NewTLS(clientTLS)), wire.DialOption(),
			grpc.WithInitialWindowSize(64<<10), grpc.WithInitialConnWindowSize(64<<10))
		require.NoError(t, err)
		return cc
	}
	r.cc = r.dial(t)
	t.Cleanup(func() {
		_ = r.cc.Close()
		cancel()
		<-routed
		_ = egress.Close()
		_ = router.Close()
		gs.Stop()
		<-served
		_ = in.Close()
		_ = buf.Close()
	})
	return r
}

// send sends batches of slowBatch log envelopes over streams BatchSender
// streams at once, as fast as the router takes them in, waits until the
// router has routed them all and returns how long that took.
func (r *slowRig) send(t *testing.T, streams, batches int) time.Duration {
	t.Helper()
	env, err := proto.Marshal(envelope.NewLog("app", make([]byte, 100)))
	require.NoError(t, err)
	envs := make([][]byte, slowBatch)
	for i := range envs {
		envs[i] = env
	}
	msg := &wire.Batch{Raw: envelope.AppendBatch(nil, envs)}
	want := r.in.Stats().Ingress + uint64(streams*batches*slowBatch)
	start := time.Now()
	var wg sync.WaitGroup
	for range streams {
		wg.Go(func() {
			s, err := wire.OpenBatchSender(t.Context(), r.cc)
			if !assert.NoError(t, err) {
				return
			}
			for range batches {
				if !assert.NoError(t, s.SendMsg(msg)) {
					return
				}
			}
			assert.NoError(t, s.CloseSend())
			_ = s.RecvMsg(new(envelope.BatchSenderResponse))
		})
	}
	wg.Wait()
	require.Eventually(t, func() bool {
		return r.in.Stats().Ingress == want && r.router.Stats().Ingress+r.buf.Stats().Dropped == want
	}, 20*time.Second, time.Millisecond, "want %d, ingress %+v", want, r.in.Stats())
	return time.Since(start)
}

// subscribe opens a BatchedReceiver stream for every log on its own
// connection and returns it once the router has the subscription.
func (r *slowRig) subscribe(t *testing.T) (grpc.ClientStream, *grpc.ClientConn) {
	t.Helper()
	cc := r.dial(t)
	t.Cleanup(func() { _ = cc.Close() })
	logs := []*envelope.Selector{{Message: &envelope.Selector_Log{Log: &envelope.LogSelector{}}}}
	stream, err := wire.OpenBatchedReceiver(t.Context(), cc, &envelope.EgressBatchRequest{ShardId: "slow", Selectors: logs})
	require.NoError(t, err)
	require.Eventually(t, func() bool { return r.router.Stats().Subscriptions == 1 }, 5*time.Second, time.Millisecond)
	return stream, cc
}

const (
	slowStreams = 2
	slowBatches = 300 // per stream: 60,000 envelopes in all, six times the ingress buffer
	slowSent    = slowStreams * slowBatches * slowBatch
)

// A subscriber that reads nothing, or reads slowly, does not hold ingress
// back: the router takes in and routes everything the senders send,
// dropping none at ingress, while the subscriber reads nothing, and
// everything it routed to the slow subscription is either sent or counted
// dropped there.
func TestSlowConsumerDoesNotHoldIngressBack(t *testing.T) {
	base := newSlowRig(t)
	alone := base.send(t, slowStreams, slowBatches)
	assert.Equal(t, uint64(slowSent), base.in.Stats().Ingress)
	assert.Zero(t, base.buf.Stats().Dropped)
	assert.Equal(t, uint64(slowSent), base.router.Stats().Unrouted)

	t.Run("reads nothing", func(t *testing.T) {
		r := newSlowRig(t)
		_, cc := r.subscribe(t)
		took := r.send(t, slowStreams, slowBatches)
		t.Logf("sent in %v with a subscriber that reads nothing, %v without a subscriber", took, alone)
		r.checkIngress(t)
		// Close the subscriber: what its subscription held is counted.
		require.NoError(t, cc.Close())
		r.checkBooks(t, 0)
	})
	t.Run("reads slowly", func(t *testing.T) {
		r := newSlowRig(t)
		stream, cc := r.subscribe(t)
		var got atomic.Uint64
		var reader sync.WaitGroup
		reader.Go(func() { // one message each 2 ms: 50,000 envelopes a second at most
			var b wire.Batch
			var envs [][]byte
			for stream.RecvMsg(&b) == nil {
				envs, _ = envelope.SplitBatch(b.Raw, envs[:0])
				got.Add(uint64(len(envs)))
				time.Sleep(2 * time.Millisecond) //nolint:forbidigo // the slow consumer's pace
			}
		})
		took := r.send(t, slowStreams, slowBatches)
		t.Logf("sent in %v with a subscriber that reads slowly, %v without a subscriber", took, alone)
		r.checkIngress(t)
		// The reader catches up with what the subscription holds, then
		// stops: everything the server sent has arrived.
		require.Eventually(t, func() bool {
			st := r.router.Stats()
			return st.Egress == r.egress.Stats().Egress+st.Dropped.Total() && got.Load() == r.egress.Stats().Egress
		}, 20*time.Second, time.Millisecond, "router %+v, server %+v, got %d", r.router.Stats(), r.egress.Stats(), got.Load())
		require.NoError(t, cc.Close())
		reader.Wait()
		r.checkBooks(t, got.Load())
		assert.NotZero(t, got.Load())
	})
}

// checkIngress checks that the router took in and routed every envelope
// sent, dropping none at ingress (whose streams wait at most 50 ms for
// room), while its subscription overflowed. A router that held Run or
// ingress back until its subscriber read would not finish (send waits
// 20 s for it). How long sending took is logged beside the time without a
// subscriber, not asserted: a timed assertion flakes on a busy machine.
func (r *slowRig) checkIngress(t *testing.T) {
	t.Helper()
	assert.Equal(t, uint64(slowSent), r.in.Stats().Ingress)
	assert.Zero(t, r.buf.Stats().Dropped, "dropped at ingress")
	st := r.router.Stats()
	assert.Equal(t, uint64(slowSent), st.Ingress)
	assert.Equal(t, uint64(slowSent), st.Routed)
	assert.Equal(t, uint64(slowSent), st.Egress)
	assert.NotZero(t, st.Dropped[serve.CauseOverflow], "the subscription never overflowed: the test did not test")
}

// checkBooks waits until the subscription has closed and checks that the
// books close exactly: every envelope routed to it was sent by the Egress
// server or counted dropped (in the subscription, or by the server), and
// the subscriber received received of those sent (all, or none: a
// subscriber that read nothing).
func (r *slowRig) checkBooks(t *testing.T, received uint64) {
	t.Helper()
	require.Eventually(t, func() bool {
		return r.router.Stats().Subscriptions == 0 && r.egress.Stats().Streams == 0
	}, 10*time.Second, time.Millisecond)
	st := r.router.Stats()
	es := r.egress.Stats()
	shard := st.Shards["slow"]
	assert.Equal(t, uint64(slowSent), shard.Egress)
	assert.Equal(t, uint64(slowSent), es.Egress+es.Dropped.Total()+shard.Dropped.Total(),
		"sent %d, server dropped %v, subscription dropped %v", es.Egress, es.Dropped, shard.Dropped)
	if received > 0 {
		assert.Equal(t, received, es.Egress)
		assert.Zero(t, es.Dropped.Total())
	}
}
