package forward

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/sluicelog/sluice/discovery"
	"github.com/sluicelog/sluice/ingress/ingresstest"
	"github.com/sluicelog/sluice/internal/testtls"
)

// Loggregator's router answers the end of a BatchSender stream with
// Unknown "EOF" after reading all of it: for the pool that confirms the
// stream, as OK does. (Its unary Send is Unimplemented: acknowledged mode
// needs a sluice router.)
func TestPoolStreamsToLoggregatorRouter(t *testing.T) {
	_, serverTLS, clientTLS := testtls.Must(t)
	router, err := ingresstest.NewServer(ingresstest.WithTLS(serverTLS), ingresstest.WithLoggregatorAnswers(), ingresstest.WithCountOnly())
	require.NoError(t, err)
	defer router.Close()
	h := poolNewHarness(t, discovery.NewStatic(discovery.Endpoint{Addr: router.Addr()}),
		poolTestOptions(clientTLS, WithStreams(2), WithRecycle(200*time.Millisecond))...)
	h.startSending(50, 5*time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	require.NoError(t, router.WaitFor(ctx, 2000))
	require.Eventually(t, func() bool { return h.pool.Stats().Recycles >= 4 }, 20*time.Second, 5*time.Millisecond)
	fs, ps := h.finish()
	assert.Equal(t, fs.Egress, router.Count(), "the router has everything the pool sent")
	assert.Zero(t, ps.Unconfirmed, "the EOF answer confirms every recycled stream")
	assert.Zero(t, fs.Dropped.Total())
	assert.Zero(t, ps.Failures)
	assert.Equal(t, ps.Recycles, router.Counts().BatchSender.Calls, "every stream was closed on purpose and confirmed")
}

// A router that answers the end of a stream with an error has not
// confirmed it: what the stream carried last is counted unconfirmed.
func TestPoolStreamEndRefusedIsUnconfirmed(t *testing.T) {
	_, serverTLS, clientTLS := testtls.Must(t)
	router, err := ingresstest.NewServer(ingresstest.WithTLS(serverTLS), ingresstest.WithCountOnly())
	require.NoError(t, err)
	defer router.Close()
	h := poolNewHarness(t, discovery.NewStatic(discovery.Endpoint{Addr: router.Addr()}),
		poolTestOptions(clientTLS, WithStreams(1))...)
	for i := range 100 {
		h.buf.Set(poolTestEnvelope(t, i))
	}
	h.sent.Store(100)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	require.NoError(t, router.WaitFor(ctx, 100))
	router.Refuse(status.Error(codes.Internal, "lost it"))
	fs, ps := h.finish()
	assert.Equal(t, uint64(100), fs.Egress)
	assert.Equal(t, uint64(100), ps.Unconfirmed, "the refused answer confirms nothing")
	assert.Equal(t, uint64(1), router.Counts().BatchSender.Refused)
}

// In acknowledged mode, a router that answers Send with Unimplemented
// (Loggregator's) gets streaming instead: every envelope arrives, nothing is
// dropped, one warning is logged and AckUnsupported counts the router once.
func TestPoolAcknowledgedFallsBackToStreaming(t *testing.T) {
	_, serverTLS, clientTLS := testtls.Must(t)
	router, err := ingresstest.NewServer(ingresstest.WithTLS(serverTLS), ingresstest.WithLoggregatorAnswers(), ingresstest.WithCountOnly())
	require.NoError(t, err)
	defer router.Close()
	var logs poolLogSink
	h := poolNewHarness(t, discovery.NewStatic(discovery.Endpoint{Addr: router.Addr()}),
		poolTestOptions(clientTLS, WithStreams(3), WithMode(Acknowledged), WithRecycle(300*time.Millisecond),
			WithLogger(slog.New(&logs)))...)
	h.startSending(50, 5*time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	require.NoError(t, router.WaitFor(ctx, 3000))
	require.Eventually(t, func() bool { return h.pool.Stats().Recycles >= 3 }, 20*time.Second, 5*time.Millisecond,
		"streams recycle and come back streaming")
	fs, ps := h.finish()
	assert.Equal(t, fs.Egress, router.Count(), "the router has everything the pool sent")
	assert.Equal(t, uint64(h.sent.Load()), fs.Egress)
	assert.Zero(t, fs.Dropped.Total())
	assert.Zero(t, ps.Unconfirmed)
	assert.Equal(t, uint64(1), ps.AckUnsupported)
	assert.Equal(t, 1, logs.count(slog.LevelWarn), "one warning for the router")
}

// poolLogSink is a slog.Handler counting records by level.
type poolLogSink struct {
	mu     sync.Mutex
	counts map[slog.Level]int
}

func (l *poolLogSink) Enabled(context.Context, slog.Level) bool { return true }
func (l *poolLogSink) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *poolLogSink) WithGroup(string) slog.Handler            { return l }
func (l *poolLogSink) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.counts == nil {
		l.counts = map[slog.Level]int{}
	}
	l.counts[r.Level]++
	return nil
}

func (l *poolLogSink) count(level slog.Level) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.counts[level]
}
