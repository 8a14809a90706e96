package ingresstest_test

import (
	"context"
	"crypto/tls"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/sluicelog/sluice/envelope"
	"github.com/sluicelog/sluice/ingress/ingresstest"
	"github.com/sluicelog/sluice/internal/testtls"
	"github.com/sluicelog/sluice/internal/wire"
)

func start(t *testing.T, opts ...ingresstest.Option) *ingresstest.Server {
	t.Helper()
	s, err := ingresstest.NewServer(opts...)
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return s
}

func dial(t *testing.T, addr string, cfg *tls.Config) *grpc.ClientConn {
	t.Helper()
	creds := insecure.NewCredentials()
	if cfg != nil {
		creds = credentials.NewTLS(cfg)
	}
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(creds))
	require.NoError(t, err)
	t.Cleanup(func() { cc.Close() })
	return cc
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func logs(n int, src string) []*envelope.Envelope {
	out := make([]*envelope.Envelope, n)
	for i := range out {
		out[i] = envelope.NewLog(src, []byte{byte('a' + i)})
	}
	return out
}

func raw(t *testing.T, es []*envelope.Envelope) [][]byte {
	out := make([][]byte, len(es))
	for i, e := range es {
		b, err := proto.Marshal(e)
		require.NoError(t, err)
		out[i] = b
	}
	return out
}

// Every method, from the stock generated client over mutual TLS: what was
// sent is recorded in order, with exact counts per method.
func TestRecordsEveryMethodOverMutualTLS(t *testing.T) {
	_, serverTLS, clientTLS := testtls.Must(t)
	s := start(t, ingresstest.WithTLS(serverTLS))
	client := envelope.NewIngressClient(dial(t, s.Addr(), clientTLS))
	ctx := testCtx(t)

	bs, err := client.BatchSender(ctx)
	require.NoError(t, err)
	require.NoError(t, bs.Send(&envelope.Batch{Batch: logs(2, "bs1")}))
	require.NoError(t, bs.Send(&envelope.Batch{Batch: logs(3, "bs2")}))
	_, err = bs.CloseAndRecv()
	require.NoError(t, err)

	snd, err := client.Sender(ctx)
	require.NoError(t, err)
	for _, e := range logs(4, "sender") {
		require.NoError(t, snd.Send(e))
	}
	_, err = snd.CloseAndRecv()
	require.NoError(t, err)

	_, err = client.Send(ctx, &envelope.Batch{Batch: logs(1, "send")})
	require.NoError(t, err)

	require.NoError(t, s.WaitFor(ctx, 10))
	assert.Equal(t, uint64(10), s.Count())
	assert.Equal(t, ingresstest.Counts{
		Sender:      ingresstest.Method{Calls: 1, Messages: 4, Envelopes: 4},
		BatchSender: ingresstest.Method{Calls: 1, Messages: 2, Envelopes: 5},
		Send:        ingresstest.Method{Calls: 1, Messages: 1, Envelopes: 1},
	}, s.Counts())
	var got []string
	for _, e := range s.Envelopes() {
		got = append(got, e.GetSourceId()+":"+string(e.GetLog().GetPayload()))
	}
	assert.Equal(t, []string{"bs1:a", "bs1:b", "bs2:a", "bs2:b", "bs2:c", "sender:a", "sender:b", "sender:c", "sender:d", "send:a"}, got)
	assert.Len(t, s.Raw(), 10)
}

// sluice's raw client (wire bytes) is recorded byte for byte.
func TestRecordsWireBytes(t *testing.T) {
	s := start(t)
	cc := dial(t, s.Addr(), nil)
	ctx := testCtx(t)
	envs := raw(t, logs(3, "w"))
	st, err := wire.OpenBatchSender(ctx, cc)
	require.NoError(t, err)
	require.NoError(t, st.SendMsg(&wire.Batch{Envelopes: envs}))
	require.NoError(t, st.CloseSend())
	require.NoError(t, st.RecvMsg(&envelope.BatchSenderResponse{}))
	assert.Equal(t, envs, s.Raw())
}

func TestLoggregatorAnswers(t *testing.T) {
	s := start(t, ingresstest.WithLoggregatorAnswers())
	client := envelope.NewIngressClient(dial(t, s.Addr(), nil))
	ctx := testCtx(t)

	bs, err := client.BatchSender(ctx)
	require.NoError(t, err)
	require.NoError(t, bs.Send(&envelope.Batch{Batch: logs(2, "a")}))
	_, err = bs.CloseAndRecv()
	assert.Equal(t, codes.Unknown, status.Code(err))
	assert.Equal(t, "EOF", status.Convert(err).Message())

	snd, err := client.Sender(ctx)
	require.NoError(t, err)
	require.NoError(t, snd.Send(logs(1, "b")[0]))
	_, err = snd.CloseAndRecv()
	assert.Equal(t, codes.Unknown, status.Code(err))
	assert.Equal(t, "EOF", status.Convert(err).Message())

	_, err = client.Send(ctx, &envelope.Batch{Batch: logs(1, "c")})
	assert.Equal(t, codes.Unimplemented, status.Code(err))

	c := s.Counts()
	assert.Equal(t, uint64(3), s.Count(), "everything streamed arrived; Send's did not")
	assert.Equal(t, ingresstest.Method{Calls: 1, Messages: 1, Refused: 1}, c.Send)
}

func TestMalformedIsRefused(t *testing.T) {
	s := start(t)
	cc := dial(t, s.Addr(), nil)
	ctx := testCtx(t)
	good := raw(t, logs(1, "g"))
	err := wire.Send(ctx, cc, &wire.Batch{Envelopes: [][]byte{good[0], {0x12, 0x01, 0xff}}})
	assert.Equal(t, codes.InvalidArgument, status.Code(err))
	st, err := wire.OpenSender(ctx, cc)
	require.NoError(t, err)
	require.NoError(t, st.SendMsg(&wire.Envelope{Raw: good[0]}))
	_ = st.SendMsg(&wire.Envelope{Raw: []byte("\xff\xff")})
	_ = st.CloseSend()
	err = st.RecvMsg(&envelope.IngressResponse{})
	assert.Equal(t, codes.InvalidArgument, status.Code(err))

	c := s.Counts()
	assert.Equal(t, ingresstest.Method{Calls: 1, Messages: 1, Refused: 1}, c.Send, "nothing of a bad batch is received")
	assert.Equal(t, ingresstest.Method{Calls: 1, Messages: 2, Envelopes: 1, Refused: 1}, c.Sender)
	assert.Equal(t, uint64(1), s.Count())
}

func TestRefuse(t *testing.T) {
	refusal := status.Error(codes.Unavailable, "go away")
	s := start(t, ingresstest.WithRefusal(refusal))
	client := envelope.NewIngressClient(dial(t, s.Addr(), nil))
	ctx := testCtx(t)
	_, err := client.Send(ctx, &envelope.Batch{Batch: logs(1, "a")})
	assert.Equal(t, codes.Unavailable, status.Code(err))
	assert.Equal(t, "go away", status.Convert(err).Message())

	s.Refuse(nil)
	_, err = client.Send(ctx, &envelope.Batch{Batch: logs(1, "a")})
	require.NoError(t, err)

	// An open stream is refused at its next message.
	bs, err := client.BatchSender(ctx)
	require.NoError(t, err)
	require.NoError(t, bs.Send(&envelope.Batch{Batch: logs(2, "b")}))
	require.NoError(t, s.WaitFor(ctx, 3))
	s.Refuse(errors.New("broken"))
	_ = bs.Send(&envelope.Batch{Batch: logs(2, "c")})
	_, err = bs.CloseAndRecv()
	assert.Equal(t, codes.Unknown, status.Code(err))
	assert.Equal(t, "broken", status.Convert(err).Message())
	assert.Equal(t, uint64(3), s.Count())
	assert.Equal(t, uint64(1), s.Counts().BatchSender.Refused)
	assert.Equal(t, uint64(1), s.Counts().Send.Refused)

	// ... and at its end: what it carried arrived, but is not confirmed.
	s.Refuse(nil)
	bs, err = client.BatchSender(ctx)
	require.NoError(t, err)
	require.NoError(t, bs.Send(&envelope.Batch{Batch: logs(2, "d")}))
	require.NoError(t, s.WaitFor(ctx, 5))
	s.Refuse(status.Error(codes.Internal, "lost it"))
	_, err = bs.CloseAndRecv()
	assert.Equal(t, codes.Internal, status.Code(err))
	assert.Equal(t, uint64(2), s.Counts().BatchSender.Refused)
}

// A stalled server reads nothing until Resume; the client's sends block
// once its flow-control window is full.
func TestStallAndResume(t *testing.T) {
	s := start(t, ingresstest.WithStall())
	client := envelope.NewIngressClient(dial(t, s.Addr(), nil))
	ctx := testCtx(t)
	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	_, err := client.Send(short, &envelope.Batch{Batch: logs(1, "a")})
	assert.Equal(t, codes.DeadlineExceeded, status.Code(err))

	bs, err := client.BatchSender(ctx)
	require.NoError(t, err)
	big := &envelope.Batch{Batch: []*envelope.Envelope{envelope.NewLog("big", make([]byte, 64<<10))}}
	blocked := make(chan error, 1)
	go func() {
		for range 64 { // 4 MiB: well past any window
			if err := bs.Send(big); err != nil {
				blocked <- err
				return
			}
		}
		_, err := bs.CloseAndRecv()
		blocked <- err
	}()
	select {
	case err := <-blocked:
		t.Fatalf("stream finished while stalled: %v", err)
	case <-time.After(100 * time.Millisecond): // bounded check that nothing moves
	}
	assert.Zero(t, s.Count())
	s.Resume()
	require.NoError(t, <-blocked)
	assert.Equal(t, uint64(64), s.Count())
}

// Crash drops the connections and keeps the records; Restart serves on
// the same address; ResetConnections breaks streams while serving.
func TestCrashRestartAndReset(t *testing.T) {
	s := start(t)
	addr := s.Addr()
	cc := dial(t, addr, nil)
	client := envelope.NewIngressClient(cc)
	ctx := testCtx(t)

	bs, err := client.BatchSender(ctx)
	require.NoError(t, err)
	require.NoError(t, bs.Send(&envelope.Batch{Batch: logs(2, "a")}))
	require.NoError(t, s.WaitFor(ctx, 2))
	s.Crash()
	_, err = bs.CloseAndRecv()
	assert.Equal(t, codes.Unavailable, status.Code(err))

	require.NoError(t, s.Restart())
	assert.Equal(t, addr, s.Addr())
	_, err = client.Send(ctx, &envelope.Batch{Batch: logs(1, "b")}, grpc.WaitForReady(true))
	require.NoError(t, err)
	assert.Equal(t, uint64(3), s.Count())

	bs, err = client.BatchSender(ctx)
	require.NoError(t, err)
	require.NoError(t, bs.Send(&envelope.Batch{Batch: logs(1, "c")}))
	require.NoError(t, s.WaitFor(ctx, 4))
	s.ResetConnections()
	_, err = bs.CloseAndRecv()
	assert.Equal(t, codes.Unavailable, status.Code(err))
	_, err = client.Send(ctx, &envelope.Batch{Batch: logs(1, "d")}, grpc.WaitForReady(true))
	require.NoError(t, err, "still serving after a reset")
	assert.Equal(t, uint64(5), s.Count())

	require.NoError(t, s.Close())
	require.NoError(t, s.Close())
	assert.ErrorIs(t, s.Restart(), ingresstest.ErrClosed)
}

func TestWaitForGivesUp(t *testing.T) {
	s := start(t, ingresstest.WithCountOnly())
	client := envelope.NewIngressClient(dial(t, s.Addr(), nil))
	_, err := client.Send(testCtx(t), &envelope.Batch{Batch: logs(2, "a")})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	err = s.WaitFor(ctx, 3)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Contains(t, err.Error(), "2 of 3")
	assert.Empty(t, s.Raw(), "count only")
	assert.Equal(t, uint64(2), s.Count())
}

// Shutdown waits for an open stream to end; with an expired ctx it stops
// at once.
func TestShutdown(t *testing.T) {
	s := start(t)
	client := envelope.NewIngressClient(dial(t, s.Addr(), nil))
	ctx := testCtx(t)
	bs, err := client.BatchSender(ctx)
	require.NoError(t, err)
	require.NoError(t, bs.Send(&envelope.Batch{Batch: logs(1, "a")}))
	require.NoError(t, s.WaitFor(ctx, 1))
	done := make(chan error, 1)
	go func() { done <- s.Shutdown(ctx) }()
	_, err = bs.CloseAndRecv()
	require.NoError(t, err, "the open stream is answered")
	require.NoError(t, <-done)

	s2 := start(t)
	bs, err = envelope.NewIngressClient(dial(t, s2.Addr(), nil)).BatchSender(ctx)
	require.NoError(t, err)
	require.NoError(t, bs.Send(&envelope.Batch{Batch: logs(1, "a")}))
	require.NoError(t, s2.WaitFor(ctx, 1))
	expired, cancel := context.WithCancel(ctx)
	cancel()
	assert.ErrorIs(t, s2.Shutdown(expired), context.Canceled)
	require.NoError(t, s2.Shutdown(ctx), "twice")
}
