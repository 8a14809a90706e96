package nozzle_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/sluicelog/sluice/discovery"
	"github.com/sluicelog/sluice/envelope"
	"github.com/sluicelog/sluice/internal/testtls"
	"github.com/sluicelog/sluice/nozzle"
	"github.com/sluicelog/sluice/stats"
)

func TestReaderReceivesInOrderOverMutualTLS(t *testing.T) {
	_, serverTLS, clientTLS := testtls.Must(t)
	router := startFakeRouter(t, serverTLS)
	r, err := nozzle.NewReader(router.Addr(), logRequest("s1"), nozzle.WithTLS(clientTLS))
	require.NoError(t, err)
	defer r.Close()
	waitSubs(t, router, 1)
	go func() {
		for i := range 10 {
			publish(t, router, seqBatch(t, "app", i*100, 100))
		}
	}()
	ctx := testCtx(t)
	n := 0
	for e, err := range r.Envelopes(ctx) {
		require.NoError(t, err)
		require.Equal(t, fmt.Sprint(n), string(e.GetLog().GetPayload()))
		n++
		if n == 1000 {
			break
		}
	}
	require.NoError(t, r.Shutdown(ctx))
	st := r.Stats()
	assert.Equal(t, uint64(1000), st.Received)
	assert.Equal(t, uint64(1000), st.Delivered)
	assert.Empty(t, st.Dropped)
	assert.Zero(t, st.Malformed)
	assert.Equal(t, "s1", router.Requests()[0].GetShardId())
	require.Len(t, st.Streams, 1)
	assert.Equal(t, uint64(10), st.Streams[0].Batches)
}

func TestReaderRefusesPlaintextToMutualTLS(t *testing.T) {
	_, serverTLS, _ := testtls.Must(t)
	router := startFakeRouter(t, serverTLS)
	r, err := nozzle.NewReader(router.Addr(), logRequest("s"), nozzle.WithBackoff(time.Millisecond, 10*time.Millisecond))
	require.NoError(t, err)
	defer r.Close()
	require.Eventually(t, func() bool { return r.Stats().LastError != nil && r.Stats().Reconnects >= 2 },
		20*time.Second, 10*time.Millisecond)
	assert.Zero(t, r.Stats().Connected)
}

func TestReaderReconnectsAfterRouterRestart(t *testing.T) {
	_, serverTLS, clientTLS := testtls.Must(t)
	router := startFakeRouter(t, serverTLS)
	r, err := nozzle.NewReader(router.Addr(), logRequest("s"), nozzle.WithTLS(clientTLS),
		nozzle.WithBackoff(10*time.Millisecond, 100*time.Millisecond))
	require.NoError(t, err)
	defer r.Close()
	ctx := testCtx(t)

	waitSubs(t, router, 1)
	publish(t, router, seqBatch(t, "a", 0, 5))
	for range 5 {
		_, err := r.Next(ctx)
		require.NoError(t, err)
	}
	router.Crash()
	require.Eventually(t, func() bool { return r.Stats().LastError != nil }, 20*time.Second, 10*time.Millisecond)
	require.NoError(t, router.Restart())
	waitSubs(t, router, 1)
	publish(t, router, seqBatch(t, "a", 5, 5))
	for i := range 5 {
		b, err := r.Next(ctx)
		require.NoError(t, err)
		e := new(envelope.Envelope)
		require.NoError(t, proto.Unmarshal(b, e))
		assert.Equal(t, fmt.Sprint(5+i), string(e.GetLog().GetPayload()))
	}
	st := r.Stats()
	assert.GreaterOrEqual(t, st.Reconnects, uint64(1))
	assert.Equal(t, uint64(10), st.Received)
	assert.Equal(t, 1, st.Connected)
}

func TestReaderRejectsBadInput(t *testing.T) {
	tests := []struct {
		name string
		addr string
		req  *envelope.EgressBatchRequest
		is   error
	}{
		{"empty address", "", logRequest("s"), nozzle.ErrInvalidConfig},
		{"nil request", "127.0.0.1:1", nil, nozzle.ErrInvalidConfig},
		{"no selectors", "127.0.0.1:1", &envelope.EgressBatchRequest{ShardId: "s"}, envelope.ErrNoSelectors},
		{"selector without message", "127.0.0.1:1", &envelope.EgressBatchRequest{Selectors: []*envelope.Selector{{SourceId: "a"}}}, envelope.ErrSelectorWithoutMessage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := nozzle.NewReader(tt.addr, tt.req)
			require.ErrorIs(t, err, tt.is)
			require.ErrorIs(t, err, nozzle.ErrInvalidConfig)
		})
	}
}

// Bad options fail every constructor with ErrInvalidConfig; nil options
// (and the zero Option) are skipped.
func TestConstructorsCheckOptions(t *testing.T) {
	bad := map[string]nozzle.Option{
		"negative buffer":        nozzle.WithBufferSize(-1),
		"zero backoff base":      nozzle.WithBackoff(0, time.Second),
		"backoff max below base": nozzle.WithBackoff(time.Second, time.Millisecond),
	}
	src := discovery.NewStatic()
	for name, o := range bad {
		_, err := nozzle.NewReader("127.0.0.1:1", logRequest("s"), o)
		require.ErrorIs(t, err, nozzle.ErrInvalidConfig, "reader: %s", name)
		_, err = nozzle.NewFirehose(src, logRequest("s"), o)
		require.ErrorIs(t, err, nozzle.ErrInvalidConfig, "firehose: %s", name)
		_, err = nozzle.NewGatewayReader("http://127.0.0.1:1", logRequest("s"), o)
		require.ErrorIs(t, err, nozzle.ErrInvalidConfig, "gateway reader: %s", name)
	}
	_, err := nozzle.NewReader("127.0.0.1:1", logRequest("s"), nozzle.WithKeepalive(-time.Second, 0))
	require.ErrorIs(t, err, nozzle.ErrInvalidConfig, "negative keepalive")

	r, err := nozzle.NewReader("127.0.0.1:1", logRequest("s"), nil, nozzle.Option{}, nozzle.GRPCOption{}, nozzle.WithBufferSize(0))
	require.NoError(t, err, "nil and zero options are skipped")
	require.NoError(t, r.Close())
	f, err := nozzle.NewFirehose(src, logRequest("s"), nil)
	require.NoError(t, err)
	require.NoError(t, f.Close())
	g, err := nozzle.NewGatewayReader("http://127.0.0.1:1", logRequest("s"), nil)
	require.NoError(t, err)
	require.NoError(t, g.Close())
}

// A consumer that does not keep up: the stream is never pushed back on, the
// overflow is dropped and counted, and the episode is reported once (both
// to the callback, at once, and in the iterator, where the consumer is).
// Catching up ends the episode; the next overflow is episode 2.
func TestReaderSlowConsumerEpisodes(t *testing.T) {
	_, serverTLS, clientTLS := testtls.Must(t)
	router := startFakeRouter(t, serverTLS)
	signals := make(chan *nozzle.SlowConsumerError, 10)
	r, err := nozzle.NewReader(router.Addr(), logRequest("slow"), nozzle.WithTLS(clientTLS), nozzle.WithBufferSize(10),
		nozzle.WithSlowConsumer(func(e *nozzle.SlowConsumerError) { signals <- e }))
	require.NoError(t, err)
	defer r.Close()
	waitSubs(t, router, 1)
	ctx := testCtx(t)

	for i := range 10 {
		publish(t, router, seqBatch(t, "a", i*10, 10)) // 100, consumer asleep
	}
	require.Eventually(t, func() bool { st := r.Stats(); return st.Received == 100 && st.Dropped[nozzle.CauseOverflow] == 90 }, 20*time.Second, time.Millisecond)
	sig := waitSignal(t, signals)
	assert.Equal(t, uint64(1), sig.Episode)
	assert.GreaterOrEqual(t, sig.Dropped, uint64(1))

	var got []string
	var inBand []error
	for e, err := range r.Envelopes(ctx) {
		if err != nil {
			inBand = append(inBand, err)
			continue
		}
		got = append(got, string(e.GetLog().GetPayload()))
		if len(got) == 10 {
			break
		}
	}
	require.Len(t, inBand, 1)
	assert.ErrorIs(t, inBand[0], nozzle.ErrSlowConsumer)
	var sc *nozzle.SlowConsumerError
	require.ErrorAs(t, inBand[0], &sc)
	assert.Equal(t, uint64(1), sc.Episode)
	// The channel buffer keeps the oldest ten and drops the newest.
	assert.Equal(t, []string{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"}, got)

	_, ok := r.TryNext() // caught up: the episode ends
	require.False(t, ok)
	st := r.Stats()
	assert.Equal(t, uint64(100), st.Received)
	assert.Equal(t, uint64(10), st.Delivered)
	assert.Equal(t, stats.Drops{nozzle.CauseOverflow: 90}, st.Dropped)
	assert.Equal(t, uint64(1), st.SlowConsumerEpisodes)
	select {
	case s := <-signals:
		t.Fatalf("second signal in one episode: %v", s)
	default:
	}

	for i := range 3 {
		publish(t, router, seqBatch(t, "a", 100+i*10, 10))
	}
	require.Eventually(t, func() bool { st := r.Stats(); return st.Received == 130 && st.Dropped[nozzle.CauseOverflow] == 110 }, 20*time.Second, time.Millisecond)
	sig = waitSignal(t, signals)
	assert.Equal(t, uint64(2), sig.Episode)
	assert.Equal(t, uint64(10), sig.Dropped) // reported with the batch that first overflowed
	require.NoError(t, r.Close())
	st = r.Stats()
	assert.Equal(t, uint64(2), st.SlowConsumerEpisodes)
	assert.Equal(t, st.Received, st.Delivered+st.Dropped.Total())
	assert.Equal(t, uint64(10), st.Dropped[nozzle.CauseShutdown])
}

func TestReaderLifecycle(t *testing.T) {
	_, serverTLS, clientTLS := testtls.Must(t)
	router := startFakeRouter(t, serverTLS)
	r, err := nozzle.NewReader(router.Addr(), logRequest("s"), nozzle.WithTLS(clientTLS))
	require.NoError(t, err)
	waitSubs(t, router, 1)
	publish(t, router, seqBatch(t, "a", 0, 3))
	require.Eventually(t, func() bool { return r.Stats().Received == 3 }, 20*time.Second, time.Millisecond)

	// A consumer blocked in Next gets the buffered envelopes, then ErrClosed.
	got := make(chan error, 1)
	go func() {
		ctx := context.Background()
		for {
			if _, err := r.Next(ctx); err != nil {
				got <- err
				return
			}
		}
	}()
	ctx := testCtx(t)
	require.NoError(t, r.Shutdown(ctx))
	assert.ErrorIs(t, <-got, nozzle.ErrClosed)
	require.NoError(t, r.Shutdown(ctx))
	require.NoError(t, r.Close())
	require.NoError(t, r.Close())
	_, err = r.Next(ctx)
	assert.ErrorIs(t, err, nozzle.ErrClosed)
	_, ok := r.TryNext()
	assert.False(t, ok)
	st := r.Stats()
	assert.Equal(t, uint64(3), st.Delivered)
	assert.Zero(t, st.Dropped[nozzle.CauseShutdown])
	waitSubs(t, router, 0)

	// Shutdown with nobody reading gives up when its ctx ends and counts
	// the rest as discarded.
	r2, err := nozzle.NewReader(router.Addr(), logRequest("s"), nozzle.WithTLS(clientTLS))
	require.NoError(t, err)
	waitSubs(t, router, 1)
	publish(t, router, seqBatch(t, "a", 0, 4))
	require.Eventually(t, func() bool { return r2.Stats().Received == 4 }, 20*time.Second, time.Millisecond)
	short, cancel := context.WithTimeout(ctx, 10*time.Millisecond)
	defer cancel()
	require.ErrorIs(t, r2.Shutdown(short), context.DeadlineExceeded)
	assert.Equal(t, uint64(4), r2.Stats().Dropped[nozzle.CauseShutdown])

	// The iterator yields ctx.Err() when its context ends.
	r3, err := nozzle.NewReader(router.Addr(), logRequest("s"), nozzle.WithTLS(clientTLS))
	require.NoError(t, err)
	defer r3.Close()
	cctx, ccancel := context.WithCancel(ctx)
	ccancel()
	var errs []error
	for _, err := range r3.Envelopes(cctx) {
		errs = append(errs, err)
	}
	require.Len(t, errs, 1)
	assert.True(t, errors.Is(errs[0], context.Canceled))
}

func waitSignal(t *testing.T, c <-chan *nozzle.SlowConsumerError) *nozzle.SlowConsumerError {
	t.Helper()
	select {
	case s := <-c:
		return s
	case <-time.After(20 * time.Second):
		t.Fatal("no slow-consumer signal")
		return nil
	}
}
