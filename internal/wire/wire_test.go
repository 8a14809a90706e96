package wire_test

import (
	"context"
	"io"
	"net"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/sluicelog/sluice/envelope"
	"github.com/sluicelog/sluice/internal/wire"
)

type rawIngress struct {
	mu   sync.Mutex
	envs [][]byte
}

func (r *rawIngress) keep(b *wire.Batch) error {
	if err := b.Split(); err != nil {
		return err
	}
	r.mu.Lock()
	r.envs = append(r.envs, b.Envelopes...)
	r.mu.Unlock()
	return nil
}

func (r *rawIngress) Sender(s grpc.ServerStream) error {
	for {
		var e wire.Envelope
		if err := s.RecvMsg(&e); err != nil {
			if err == io.EOF {
				return s.SendMsg(&envelope.IngressResponse{})
			}
			return err
		}
		r.mu.Lock()
		r.envs = append(r.envs, e.Raw)
		r.mu.Unlock()
	}
}

func (r *rawIngress) BatchSender(s grpc.ServerStream) error {
	for {
		var b wire.Batch
		if err := s.RecvMsg(&b); err != nil {
			if err == io.EOF {
				return s.SendMsg(&envelope.BatchSenderResponse{})
			}
			return err
		}
		if err := r.keep(&b); err != nil {
			return err
		}
	}
}

func (r *rawIngress) Send(_ context.Context, b *wire.Batch) error { return r.keep(b) }

func serve(t *testing.T, register func(*grpc.Server), opts ...grpc.ServerOption) *grpc.ClientConn {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	s := grpc.NewServer(opts...)
	register(s)
	go s.Serve(lis)
	t.Cleanup(s.Stop)
	cc, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	t.Cleanup(func() { cc.Close() })
	return cc
}

// A stock generated client (what Loggregator's agent is) talks to a raw
// sluice server on the same method paths.
func TestGeneratedClientToRawServer(t *testing.T) {
	h := &rawIngress{}
	cc := serve(t, func(s *grpc.Server) { wire.RegisterIngress(s, h) }, wire.ServerOption())
	client := envelope.NewIngressClient(cc)
	ctx := context.Background()
	e1 := envelope.NewLog("a", []byte("one"))
	e2 := envelope.NewCounter("b", "n", 1)
	e3 := envelope.NewEvent("c", "t", "b")

	bs, err := client.BatchSender(ctx)
	require.NoError(t, err)
	require.NoError(t, bs.Send(&envelope.Batch{Batch: []*envelope.Envelope{e1, e2}}))
	_, err = bs.CloseAndRecv()
	require.NoError(t, err)

	_, err = client.Send(ctx, &envelope.Batch{Batch: []*envelope.Envelope{e3}})
	require.NoError(t, err)

	snd, err := client.Sender(ctx)
	require.NoError(t, err)
	require.NoError(t, snd.Send(e1))
	_, err = snd.CloseAndRecv()
	require.NoError(t, err)

	h.mu.Lock()
	defer h.mu.Unlock()
	require.Len(t, h.envs, 4)
	for i, want := range []*envelope.Envelope{e1, e2, e3, e1} {
		var got envelope.Envelope
		require.NoError(t, proto.Unmarshal(h.envs[i], &got))
		assert.True(t, proto.Equal(want, &got), "envelope %d", i)
	}
}

type stockIngress struct {
	envelope.UnimplementedIngressServer
	mu   sync.Mutex
	envs []*envelope.Envelope
}

func (s *stockIngress) BatchSender(st grpc.ClientStreamingServer[envelope.EnvelopeBatch, envelope.BatchSenderResponse]) error {
	for {
		b, err := st.Recv()
		if err == io.EOF {
			return st.SendAndClose(&envelope.BatchSenderResponse{})
		}
		if err != nil {
			return err
		}
		s.mu.Lock()
		s.envs = append(s.envs, b.Batch...)
		s.mu.Unlock()
	}
}

func (s *stockIngress) Send(_ context.Context, b *envelope.EnvelopeBatch) (*envelope.SendResponse, error) {
	s.mu.Lock()
	s.envs = append(s.envs, b.Batch...)
	s.mu.Unlock()
	return &envelope.SendResponse{}, nil
}

// sluice's raw client talks to a stock generated server (what Loggregator's
// router is): batches framed from wire bytes decode as ordinary messages.
func TestRawClientToGeneratedServer(t *testing.T) {
	h := &stockIngress{}
	cc := serve(t, func(s *grpc.Server) { envelope.RegisterIngressServer(s, h) })
	ctx := context.Background()
	e1, _ := proto.Marshal(envelope.NewLog("a", []byte("one")))
	e2, _ := proto.Marshal(envelope.NewCounter("b", "n", 1))

	st, err := wire.OpenBatchSender(ctx, cc)
	require.NoError(t, err)
	require.NoError(t, st.SendMsg(&wire.Batch{Envelopes: [][]byte{e1, e2}}))
	require.NoError(t, st.CloseSend())
	require.NoError(t, st.RecvMsg(&envelope.BatchSenderResponse{}))
	require.NoError(t, wire.Send(ctx, cc, &wire.Batch{Envelopes: [][]byte{e2}}))

	h.mu.Lock()
	defer h.mu.Unlock()
	require.Len(t, h.envs, 3)
	assert.Equal(t, "a", h.envs[0].GetSourceId())
	assert.Equal(t, "n", h.envs[1].GetCounter().GetName())
	assert.Equal(t, "n", h.envs[2].GetCounter().GetName())
}

func TestSplitRejectsMalformedEnvelope(t *testing.T) {
	good, _ := proto.Marshal(envelope.NewLog("a", []byte("x")))
	b := &wire.Batch{Raw: envelope.AppendBatch(nil, [][]byte{good, {0x12, 0x01, 0xff}})}
	err := b.Split()
	require.ErrorIs(t, err, envelope.ErrMalformed)
	assert.Contains(t, err.Error(), "envelope 1 of batch")
	assert.Equal(t, envelope.AppendBatch(nil, [][]byte{good}), envelope.AppendBatch(nil, b.Envelopes[:1]))
	assert.Equal(t, len(b.Raw), (&wire.Batch{Envelopes: b.Envelopes}).Size())
}

func TestConfirmed(t *testing.T) {
	assert.True(t, wire.Confirmed(nil))
	assert.True(t, wire.Confirmed(status.Error(codes.Unknown, "EOF")), "Loggregator's answer")
	assert.False(t, wire.Confirmed(status.Error(codes.Unknown, "boom")))
	assert.False(t, wire.Confirmed(status.Error(codes.Unavailable, "EOF")))
	assert.False(t, wire.Confirmed(io.EOF), "a broken stream, not an answer")
}

// SplitSourceless lists exactly the envelopes without a source ID; the
// last source_id field wins, as in protobuf.
func TestSplitSourceless(t *testing.T) {
	m := func(e *envelope.Envelope) []byte {
		b, err := proto.Marshal(e)
		require.NoError(t, err)
		return b
	}
	lastEmpty := append(m(envelope.NewLog("x", nil)), 0x12, 0x00)
	lastSet := append(m(envelope.NewLog("", nil)), 0x12, 0x01, 'y')
	envs := [][]byte{
		m(envelope.NewLog("x", []byte("p"))),
		m(envelope.NewLog("", []byte("p"), envelope.WithTag("a", "b"))),
		m(envelope.NewGauge("g", []envelope.Metric{{Name: "m", Value: 1}})),
		lastEmpty,
		lastSet,
		m(envelope.NewCounter("", "c", 1)),
	}
	b := &wire.Batch{Raw: envelope.AppendBatch(nil, envs), WantSourceIDs: true}
	got, err := b.SplitSourceless([]int{-1})
	require.NoError(t, err)
	assert.Equal(t, []int{-1, 1, 3, 5}, got, "appended to what was given")
	assert.Len(t, b.Envelopes, len(envs))
	assert.Equal(t, []string{"x", "", "g", "", "y", ""}, b.SourceIDs, "the source ID of each")

	// The next message reuses SourceIDs' storage.
	ids := b.SourceIDs
	b.Raw = envelope.AppendBatch(nil, envs[:2])
	_, err = b.SplitSourceless(nil)
	require.NoError(t, err)
	assert.Equal(t, []string{"x", ""}, b.SourceIDs)
	assert.Same(t, &ids[0], &b.SourceIDs[0])

	// Unwanted, they are not kept.
	b.WantSourceIDs = false
	_, err = b.SplitSourceless(nil)
	require.NoError(t, err)
	assert.Empty(t, b.SourceIDs)
}
