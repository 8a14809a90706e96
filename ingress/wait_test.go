package ingress

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sluicelog/sluice/envelope"
	"github.com/sluicelog/sluice/internal/buftest"
	"github.com/sluicelog/sluice/internal/wire"
	"github.com/sluicelog/sluice/limit"
	"github.com/sluicelog/sluice/stats"
)

func newFairBuffer(t *testing.T, size int) *limit.Buffer {
	t.Helper()
	b, err := limit.NewBuffer(limit.BufferConfig{Policy: limit.PolicyFair, Size: size})
	require.NoError(t, err)
	t.Cleanup(func() { _ = b.Close() })
	return b
}

// With WithWaitWhenFull a stream whose batch filled the buffer receives
// nothing more until the reader has made room, and is woken by that read:
// the next batch then goes in and the buffer drops only what does not fit.
func TestWaitWhenFullWaitsForRoom(t *testing.T) {
	tp := newTLS(t)
	buf := newFairBuffer(t, 10)
	s, addr := startServer(t, buf, WithTLS(tp.server), WithWaitWhenFull(time.Minute))
	cc := dial(t, addr, tp.client)
	ctx := testCtx(t)
	st, err := wire.OpenBatchSender(ctx, cc)
	require.NoError(t, err)

	require.NoError(t, st.SendMsg(&wire.Batch{Raw: envelope.AppendBatch(nil, logs(t, "a", 10))}))
	require.Eventually(t, func() bool { return s.Stats().Waits == 1 }, 10*time.Second, time.Millisecond)
	require.NoError(t, st.SendMsg(&wire.Batch{Raw: envelope.AppendBatch(nil, logs(t, "b", 10))}))
	// The stream is waiting: the second batch stays with grpc, unread.
	assert.Equal(t, uint64(10), s.Stats().Ingress)

	// Room for a batch like the last one, capped at half the buffer: five
	// reads wake the stream, which takes the second batch in; the buffer
	// drops the five that do not fit, and the stream waits again.
	for range 5 {
		_, ok := buf.TryNext()
		require.True(t, ok)
	}
	require.Eventually(t, func() bool { return s.Stats().Waits == 2 }, 10*time.Second, time.Millisecond)
	got := s.Stats()
	assert.Equal(t, uint64(20), got.Ingress)
	assert.Equal(t, uint64(5), got.Dropped[CauseOverflow])
	assert.Equal(t, uint64(0), got.WaitTimeouts)

	// Room again: the stream reads its end and is confirmed.
	require.Len(t, buftest.Drain(buf), 10)
	require.NoError(t, st.CloseSend())
	require.True(t, wire.Confirmed(st.RecvMsg(&envelope.BatchSenderResponse{})))
	got = s.Stats()
	assert.Equal(t, uint64(2), got.Waits)
	assert.Equal(t, uint64(0), got.WaitTimeouts)
	assert.Positive(t, got.WaitTime)
}

// A wait is bounded: with nobody reading, each batch waits the bound, then
// goes into the buffer, which drops (fairly) what does not fit.
func TestWaitWhenFullIsBounded(t *testing.T) {
	tp := newTLS(t)
	buf := newFairBuffer(t, 10)
	const d = 30 * time.Millisecond
	s, addr := startServer(t, buf, WithTLS(tp.server), WithWaitWhenFull(d))
	cc := dial(t, addr, tp.client)
	ctx := testCtx(t)
	a := &wire.Batch{Raw: envelope.AppendBatch(nil, logs(t, "a", 10))}
	b := &wire.Batch{Raw: envelope.AppendBatch(nil, logs(t, "b", 10))}
	require.True(t, wire.Confirmed(sendBatches(ctx, cc, a, b)))
	got := s.Stats()
	assert.Equal(t, uint64(20), got.Ingress)
	assert.Equal(t, uint64(10), got.Dropped[CauseOverflow])
	assert.Equal(t, uint64(2), got.Waits)
	assert.Equal(t, uint64(2), got.WaitTimeouts)
	assert.GreaterOrEqual(t, got.WaitTime, 2*d)
	assert.Less(t, got.WaitTime, 2*d+5*time.Second)
	assert.Len(t, buftest.Drain(buf), 10)
}

// A stalled stream (open, sending nothing) holds nothing: another stream
// is woken by the reader as if it were alone, only asking room for two.
func TestWaitWhenFullStalledStreamHoldsNothing(t *testing.T) {
	tp := newTLS(t)
	buf := newFairBuffer(t, 20)
	s, addr := startServer(t, buf, WithTLS(tp.server), WithWaitWhenFull(time.Minute))
	cc := dial(t, addr, tp.client)
	ctx := testCtx(t)
	stalled, err := wire.OpenBatchSender(ctx, cc)
	require.NoError(t, err)
	require.NoError(t, stalled.SendMsg(&wire.Batch{Raw: envelope.AppendBatch(nil, logs(t, "s", 1))}))
	require.Eventually(t, func() bool { return s.Stats().Ingress == 1 }, 10*time.Second, time.Millisecond)

	st, err := wire.OpenBatchSender(ctx, cc)
	require.NoError(t, err)
	require.NoError(t, st.SendMsg(&wire.Batch{Raw: envelope.AppendBatch(nil, logs(t, "a", 15))}))
	require.Eventually(t, func() bool { return s.Stats().Waits == 1 }, 10*time.Second, time.Millisecond)
	// 16 held; two streams open ask room for 2×15, capped at 10: six reads.
	for range 6 {
		_, ok := buf.TryNext()
		require.True(t, ok)
	}
	require.NoError(t, st.CloseSend())
	require.True(t, wire.Confirmed(st.RecvMsg(&envelope.BatchSenderResponse{})))
	require.NoError(t, stalled.CloseSend())
	require.True(t, wire.Confirmed(stalled.RecvMsg(&envelope.BatchSenderResponse{})))
	got := s.Stats()
	assert.Equal(t, uint64(16), got.Ingress)
	assert.Equal(t, uint64(1), got.Waits)
	assert.Equal(t, uint64(0), got.WaitTimeouts)
	assert.Nil(t, got.Dropped)
}

func TestWaitWhenFullRefusesNegative(t *testing.T) {
	_, err := NewServer(newBuffer(t), WithWaitWhenFull(-time.Second))
	assert.True(t, errors.Is(err, ErrInvalidConfig))
}

// A wait cut short because the stream ended (its client cancelled) is
// counted as a cancel, not as a timeout: the bound (a minute) was never
// reached.
func TestWaitWhenFullCancelledIsNotATimeout(t *testing.T) {
	tp := newTLS(t)
	buf := newFairBuffer(t, 10)
	s, addr := startServer(t, buf, WithTLS(tp.server), WithWaitWhenFull(time.Minute))
	cc := dial(t, addr, tp.client)
	ctx, cancel := context.WithCancel(testCtx(t))
	defer cancel()
	st, err := wire.OpenBatchSender(ctx, cc)
	require.NoError(t, err)
	require.NoError(t, st.SendMsg(&wire.Batch{Raw: envelope.AppendBatch(nil, logs(t, "a", 10))}))
	require.Eventually(t, func() bool { return s.Stats().Waits == 1 }, 10*time.Second, time.Millisecond)

	cancel()
	require.Eventually(t, func() bool { return s.Stats().OpenStreams == 0 }, 10*time.Second, time.Millisecond)
	got := s.Stats()
	assert.Equal(t, uint64(1), got.Waits)
	assert.Equal(t, uint64(1), got.WaitCancels)
	assert.Equal(t, uint64(0), got.WaitTimeouts)
	assert.Less(t, got.WaitTime, time.Minute)
	var metrics []stats.Metric
	s.Report(func(m stats.Metric) { metrics = append(metrics, m) })
	assert.Contains(t, metrics, stats.CounterOf("ingress_wait_cancels", "Waits for room in the ingress buffer cut short because their stream ended (client gone or cancelled, server stopping).", 1))
	assert.Contains(t, metrics, stats.CounterOf("ingress_wait_timeouts", "Waits for room in the ingress buffer that ended after their bound without room; the batch was then taken in and the buffer dropped.", 0))
	assert.Len(t, buftest.Drain(buf), 10)
}
