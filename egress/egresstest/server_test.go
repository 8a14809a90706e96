package egresstest_test

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
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

	"github.com/sluicelog/sluice/egress/egresstest"
	"github.com/sluicelog/sluice/envelope"
	"github.com/sluicelog/sluice/internal/testtls"
)

func start(t *testing.T, opts ...egresstest.Option) *egresstest.Server {
	t.Helper()
	s, err := egresstest.NewServer(opts...)
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return s
}

func client(t *testing.T, addr string, cfg *tls.Config) envelope.EgressClient {
	t.Helper()
	creds := insecure.NewCredentials()
	if cfg != nil {
		creds = credentials.NewTLS(cfg)
	}
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(creds))
	require.NoError(t, err)
	t.Cleanup(func() { cc.Close() })
	return envelope.NewEgressClient(cc)
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func sel(source string, m any) *envelope.Selector {
	s := &envelope.Selector{SourceId: source}
	switch m := m.(type) {
	case *envelope.LogSelector:
		s.Message = &envelope.Selector_Log{Log: m}
	case *envelope.CounterSelector:
		s.Message = &envelope.Selector_Counter{Counter: m}
	case *envelope.GaugeSelector:
		s.Message = &envelope.Selector_Gauge{Gauge: m}
	}
	return s
}

// recvBatches reads a BatchedReceiver stream to its end and returns the
// batches' source IDs and the stream's final error.
func recvBatches(st grpc.ServerStreamingClient[envelope.EnvelopeBatch]) ([][]string, error) {
	var out [][]string
	for {
		b, err := st.Recv()
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = nil
			}
			return out, err
		}
		var ids []string
		for _, e := range b.GetBatch() {
			ids = append(ids, e.GetSourceId())
		}
		out = append(out, ids)
	}
}

var played = []*envelope.Envelope{
	envelope.NewLog("a", []byte("1")),
	envelope.NewCounter("a", "hits", 1),
	envelope.NewCounter("a", "misses", 1),
	envelope.NewGauge("b", []envelope.Metric{{Name: "cpu", Value: 1}, {Name: "mem", Value: 2}}),
	envelope.NewGauge("b", []envelope.Metric{{Name: "cpu", Value: 3}}),
	envelope.NewLog("b", []byte("2")),
	envelope.NewLog("a", []byte("3")),
}

// Each subscription gets what its selectors match, in order, in batches
// of WithBatchSize, over mutual TLS; requests are recorded as they came.
func TestPlaysWhatSelectorsMatch(t *testing.T) {
	_, serverTLS, clientTLS := testtls.Must(t)
	s := start(t, egresstest.WithTLS(serverTLS), egresstest.WithEnvelopes(played...),
		egresstest.WithEndAfterPlay(nil), egresstest.WithBatchSize(2))
	c := client(t, s.Addr(), clientTLS)
	ctx := testCtx(t)
	tests := []struct {
		name string
		sels []*envelope.Selector
		want [][]string
	}{
		{"logs of a", []*envelope.Selector{sel("a", &envelope.LogSelector{})}, [][]string{{"a", "a"}}},
		{"every log", []*envelope.Selector{sel("", &envelope.LogSelector{})}, [][]string{{"a", "b"}, {"a"}}},
		{"counter by name", []*envelope.Selector{sel("", &envelope.CounterSelector{Name: "hits"})}, [][]string{{"a"}}},
		{"gauge with both names", []*envelope.Selector{sel("b", &envelope.GaugeSelector{Names: []string{"cpu", "mem"}})}, [][]string{{"b"}}},
		{"two selectors, each envelope once", []*envelope.Selector{sel("a", &envelope.CounterSelector{}), sel("", &envelope.CounterSelector{})}, [][]string{{"a", "a"}}},
		{"nothing matches", []*envelope.Selector{sel("zzz", &envelope.LogSelector{})}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, err := c.BatchedReceiver(ctx, &envelope.EgressBatchRequest{ShardId: tt.name, Selectors: tt.sels, UsePreferredTags: true})
			require.NoError(t, err)
			got, err := recvBatches(st)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
	reqs := s.Requests()
	require.Len(t, reqs, len(tests))
	for i, tt := range tests {
		assert.Equal(t, egresstest.BatchedReceiver, reqs[i].Method)
		assert.Equal(t, tt.name, reqs[i].GetShardId())
		assert.True(t, reqs[i].GetUsePreferredTags())
		assert.True(t, proto.Equal(tt.sels[0], reqs[i].GetSelectors()[0]))
	}
	assert.Equal(t, uint64(9), s.Sent())
}

// Receiver gets one message per envelope, played then published; invalid
// requests are refused as Loggregator refuses them, and recorded.
func TestReceiverAndInvalidRequests(t *testing.T) {
	s := start(t, egresstest.WithEnvelopes(played[0]))
	c := client(t, s.Addr(), nil)
	ctx := testCtx(t)
	st, err := c.Receiver(ctx, &envelope.EgressRequest{ShardId: "r", DeterministicName: "d",
		LegacySelector: sel("", &envelope.LogSelector{})})
	require.NoError(t, err)
	e, err := st.Recv()
	require.NoError(t, err)
	assert.Equal(t, "1", string(e.GetLog().GetPayload()))
	require.NoError(t, s.WaitSubscribers(ctx, 1))
	require.NoError(t, s.Publish(ctx, played[5], played[1], played[6]))
	for _, want := range []string{"2", "3"} {
		e, err := st.Recv()
		require.NoError(t, err)
		assert.Equal(t, want, string(e.GetLog().GetPayload()))
	}
	r := s.Requests()[0]
	assert.Equal(t, egresstest.Receiver, r.Method)
	assert.Equal(t, "d", r.GetDeterministicName())
	assert.True(t, proto.Equal(sel("", &envelope.LogSelector{}), r.GetLegacySelector()))

	for _, req := range []*envelope.EgressBatchRequest{{ShardId: "none"}, {Selectors: []*envelope.Selector{{SourceId: "a"}}}} {
		bst, err := c.BatchedReceiver(ctx, req)
		require.NoError(t, err)
		_, err = bst.Recv()
		assert.Equal(t, codes.InvalidArgument, status.Code(err))
	}
	assert.Len(t, s.Requests(), 3)
	assert.Equal(t, 1, s.Subscribers())

	err = s.PublishBytes(ctx, [][]byte{{0x12, 0x01, 0xff}})
	assert.ErrorIs(t, err, envelope.ErrMalformed)
	assert.Equal(t, uint64(3), s.Sent())
}

func TestEndStreamsAndRefuse(t *testing.T) {
	s := start(t)
	c := client(t, s.Addr(), nil)
	ctx := testCtx(t)
	req := &envelope.EgressBatchRequest{Selectors: []*envelope.Selector{sel("", &envelope.LogSelector{})}}
	st1, err := c.BatchedReceiver(ctx, req)
	require.NoError(t, err)
	st2, err := c.BatchedReceiver(ctx, req)
	require.NoError(t, err)
	require.NoError(t, s.WaitSubscribers(ctx, 2))
	s.EndStreams(status.Error(codes.Unavailable, "draining"))
	for _, st := range []grpc.ServerStreamingClient[envelope.EnvelopeBatch]{st1, st2} {
		_, err := st.Recv()
		assert.Equal(t, codes.Unavailable, status.Code(err))
	}
	require.NoError(t, s.WaitSubscribers(ctx, 0))

	s.Refuse(status.Error(codes.ResourceExhausted, "full"))
	st3, err := c.BatchedReceiver(ctx, req)
	require.NoError(t, err)
	_, err = st3.Recv()
	assert.Equal(t, codes.ResourceExhausted, status.Code(err))
	s.Refuse(nil)
	st4, err := c.BatchedReceiver(ctx, req)
	require.NoError(t, err)
	require.NoError(t, s.WaitSubscribers(ctx, 1))
	s.EndStreams(nil)
	_, err = st4.Recv()
	assert.ErrorIs(t, err, io.EOF)
	assert.Len(t, s.Requests(), 4)
}

// A stalled server keeps its streams open and sends nothing; Publish
// waits; Resume delivers.
func TestStall(t *testing.T) {
	s := start(t, egresstest.WithStall(), egresstest.WithEnvelopes(played[0]))
	c := client(t, s.Addr(), nil)
	ctx := testCtx(t)
	st, err := c.BatchedReceiver(ctx, &envelope.EgressBatchRequest{Selectors: []*envelope.Selector{sel("", &envelope.LogSelector{})}})
	require.NoError(t, err)
	require.NoError(t, s.WaitSubscribers(ctx, 1))
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	assert.ErrorIs(t, s.Publish(short, played[5]), context.DeadlineExceeded)
	assert.Zero(t, s.Sent())

	s.Resume()
	require.NoError(t, s.Publish(ctx, played[6]))
	var got []string
	for len(got) < 2 {
		b, err := st.Recv()
		require.NoError(t, err)
		for _, e := range b.GetBatch() {
			got = append(got, string(e.GetLog().GetPayload()))
		}
	}
	assert.Equal(t, []string{"1", "3"}, got, "the played envelope, then the published one; the timed-out one never")

	s.Stall()
	s.EndStreams(nil) // ends a stalled stream too
	_, err = st.Recv()
	assert.ErrorIs(t, err, io.EOF)
}

func TestCrashRestartResetShutdown(t *testing.T) {
	s := start(t)
	addr := s.Addr()
	c := client(t, addr, nil)
	ctx := testCtx(t)
	req := &envelope.EgressBatchRequest{Selectors: []*envelope.Selector{sel("", &envelope.LogSelector{})}}
	st, err := c.BatchedReceiver(ctx, req)
	require.NoError(t, err)
	require.NoError(t, s.WaitSubscribers(ctx, 1))
	s.Crash()
	_, err = st.Recv()
	assert.Equal(t, codes.Unavailable, status.Code(err))
	assert.Zero(t, s.Subscribers())

	require.NoError(t, s.Restart())
	assert.Equal(t, addr, s.Addr())
	st, err = c.BatchedReceiver(ctx, req, grpc.WaitForReady(true))
	require.NoError(t, err)
	require.NoError(t, s.WaitSubscribers(ctx, 1))
	s.ResetConnections()
	_, err = st.Recv()
	assert.Equal(t, codes.Unavailable, status.Code(err))
	require.NoError(t, s.WaitSubscribers(ctx, 0))

	st, err = c.BatchedReceiver(ctx, req, grpc.WaitForReady(true))
	require.NoError(t, err)
	require.NoError(t, s.WaitSubscribers(ctx, 1))
	require.NoError(t, s.Shutdown(ctx))
	_, err = st.Recv()
	assert.ErrorIs(t, err, io.EOF, "Shutdown ends streams with OK")
	require.NoError(t, s.Shutdown(ctx))
	require.NoError(t, s.Close())
	assert.ErrorIs(t, s.Restart(), egresstest.ErrClosed)
	assert.Len(t, s.Requests(), 3)
}

func TestInvalidConfig(t *testing.T) {
	_, err := egresstest.NewServer(egresstest.WithBatchSize(0))
	assert.ErrorIs(t, err, egresstest.ErrInvalidConfig)
	_, err = egresstest.NewServer(egresstest.WithEnvelopes(&envelope.Envelope{SourceId: "\xff"}))
	assert.ErrorIs(t, err, egresstest.ErrInvalidConfig)
	_, err = egresstest.NewServer(nil, egresstest.WithAddr("256.0.0.1:0"))
	assert.Error(t, err)
}
