package ingress

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/sluicelog/sluice/envelope"
	"github.com/sluicelog/sluice/internal/buftest"
	"github.com/sluicelog/sluice/stats"
)

func TestNewClientValidates(t *testing.T) {
	tests := []struct {
		name string
		addr string
		opts []ClientOption
	}{
		{"empty address", "", nil},
		{"negative batch size", "127.0.0.1:1", []ClientOption{WithBatch(-1, 0)}},
		{"negative batch interval", "127.0.0.1:1", []ClientOption{WithBatch(0, -time.Second)}},
		{"negative buffer", "127.0.0.1:1", []ClientOption{WithBufferSize(-1)}},
		{"backoff max below base", "127.0.0.1:1", []ClientOption{WithBackoff(time.Second, time.Millisecond)}},
		{"negative keepalive", "127.0.0.1:1", []ClientOption{WithKeepalive(-time.Second, 0)}},
		{"negative keepalive timeout", "127.0.0.1:1", []ClientOption{WithKeepalive(0, -time.Second)}},
		{"negative confirm every", "127.0.0.1:1", []ClientOption{WithConfirmEvery(-1)}},
		{"negative send timeout", "127.0.0.1:1", []ClientOption{WithAcknowledged(-time.Second)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := NewClient(tt.addr, tt.opts...)
			require.ErrorIs(t, err, ErrInvalidConfig)
			assert.Nil(t, c)
		})
	}
	// Nil options are skipped; zero values keep the defaults.
	c := newClient(t, "127.0.0.1:1", nil, WithBatch(0, 0), WithKeepalive(0, 0), WithBackoff(0, 0))
	assert.Equal(t, DefaultBatchSize, c.cfg.batchSize)
	assert.Equal(t, DefaultKeepalive, c.cfg.kaTimeout)
}

func newClient(t *testing.T, addr string, opts ...ClientOption) *Client {
	t.Helper()
	c, err := NewClient(addr, opts...)
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, c.Close()) })
	return c
}

// emit emits n log envelopes from g goroutines.
func emit(c *Client, g, n int) {
	var wg sync.WaitGroup
	for i := range g {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := i; j < n; j += g {
				c.Emit(envelope.NewLog(fmt.Sprintf("src-%d", i), []byte("payload"), envelope.WithTag("seq", fmt.Sprint(j))))
			}
		}()
	}
	wg.Wait()
}

// checkClosed checks a closed Client's invariants and returns its stats.
func checkClosed(t *testing.T, c *Client) ClientStats {
	t.Helper()
	st := c.Stats()
	assert.Equal(t, st.Emitted, st.Sent+st.Dropped.Total(), "emitted == sent + dropped: %+v", st)
	assert.Equal(t, st.Sent, st.Confirmed+st.Unconfirmed, "sent == confirmed + unconfirmed: %+v", st)
	return st
}

// Client -> Server -> buffer over mutual TLS, from several goroutines:
// every envelope is in the buffer or counted dropped, exactly.
func TestClientToServerExactAccounting(t *testing.T) {
	tests := []struct {
		name     string
		bufSize  int // the client's diode
		n        int
		overflow bool
		ack      bool
	}{
		{"roomy", 20000, 20000, false, false},
		{"acknowledged", 20000, 5000, false, true},
		{"overflowing", 16, 20000, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tp := newTLS(t)
			buf := newBuffer(t)
			s, addr := startServer(t, buf, WithTLS(tp.server))
			opts := []ClientOption{WithTLS(tp.client), WithBatch(100, 5*time.Millisecond), WithBufferSize(tt.bufSize), WithConfirmEvery(7)}
			if tt.ack {
				opts = append(opts, WithAcknowledged(time.Minute)) // a timed-out Send would be retried
			}
			c := newClient(t, addr, opts...)
			emit(c, 4, tt.n)
			require.NoError(t, c.Shutdown(testCtx(t)))

			st := checkClosed(t, c)
			got := uint64(len(buftest.Drain(buf)))
			assert.Equal(t, uint64(tt.n), st.Emitted)
			assert.Equal(t, got, s.Stats().Ingress)
			assert.Equal(t, st.Confirmed, got, "every sent envelope confirmed and in the buffer")
			assert.Zero(t, st.Unconfirmed)
			assert.Equal(t, st.Emitted, got+st.Dropped.Total())
			assert.Equal(t, st.Dropped[CauseOverflow], st.Dropped.Total(), "the only drops are overflow: %+v", st.Dropped)
			if tt.overflow {
				assert.NotZero(t, st.Dropped[CauseOverflow])
			} else {
				assert.Zero(t, st.Dropped.Total())
			}
			if !tt.ack {
				assert.NotZero(t, st.Streams)
			}
		})
	}
}

// Close flushes everything the Client holds, even with a long batch
// interval, and counts what is emitted after.
func TestClientCloseFlushes(t *testing.T) {
	tp := newTLS(t)
	buf := newBuffer(t)
	_, addr := startServer(t, buf, WithTLS(tp.server))
	c := newClient(t, addr, WithTLS(tp.client), WithBatch(1000, time.Hour))
	for range 2345 {
		c.EmitBytes(marshal(t, envelope.NewCounter("c", "n", 1)))
	}
	c.EmitBytes([]byte("\xff garbage"))
	require.NoError(t, c.Shutdown(testCtx(t)))
	c.Emit(envelope.NewLog("late", nil))
	c.EmitBytes(marshal(t, envelope.NewLog("late", nil)))
	require.NoError(t, c.Shutdown(context.Background()), "a second Shutdown waits and returns nil")

	st := checkClosed(t, c)
	assert.Len(t, buftest.Drain(buf), 2345)
	assert.Equal(t, uint64(2345), st.Confirmed)
	assert.Equal(t, stats.Drops{CauseMalformed: 1, CauseClosed: 2}, st.Dropped)
}

// Close gives up when its ctx ends with the server unreachable, and
// counts what it discards as "shutdown".
func TestClientCloseGivesUp(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := lis.Addr().String()
	require.NoError(t, lis.Close()) // nobody listens there
	c := newClient(t, addr, WithBatch(10, time.Millisecond), WithBackoff(time.Millisecond, 20*time.Millisecond))
	emit(c, 2, 50)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	require.ErrorIs(t, c.Shutdown(ctx), context.DeadlineExceeded)
	st := checkClosed(t, c)
	assert.Equal(t, uint64(50), st.Emitted)
	assert.Zero(t, st.Sent)
	assert.Equal(t, uint64(50), st.Dropped[CauseShutdown]+st.Dropped[CauseSend])
	assert.Equal(t, uint64(50), st.Dropped.Total())
}

// The server restarts on the same address: the Client reconnects, and
// what was lost is counted: emitted == received + dropped + lost, with the
// loss bounded by what was sent unconfirmed.
func TestClientReconnectsAfterServerRestart(t *testing.T) {
	t.Run("roomy buffer", func(t *testing.T) { testRestart(t, DefaultBufferSize) })
	// A diode smaller than what is emitted while the server is down:
	// overflow is counted.
	t.Run("small buffer", func(t *testing.T) {
		st := testRestart(t, 64)
		assert.NotZero(t, st.Dropped[CauseOverflow])
	})
}

func testRestart(t *testing.T, bufSize int) ClientStats {
	tp := newTLS(t)
	buf1 := newBuffer(t)
	s1, addr := startServer(t, buf1, WithTLS(tp.server))
	c := newClient(t, addr, WithTLS(tp.client), WithBatch(50, 2*time.Millisecond), WithBufferSize(bufSize),
		WithBackoff(5*time.Millisecond, 50*time.Millisecond), WithConfirmEvery(5))

	emit(c, 2, 1000)
	require.Eventually(t, func() bool { return s1.Stats().Ingress+c.Stats().Dropped.Total() == 1000 }, 20*time.Second, time.Millisecond)
	require.NoError(t, s1.Close())
	emit(c, 2, 1000) // while down: held, sent into a broken stream, or dropped

	buf2 := newBuffer(t)
	s2, err := NewServer(buf2, WithTLS(tp.server))
	require.NoError(t, err)
	t.Cleanup(func() { s2.Close() })
	require.Eventually(t, func() bool { _, err := s2.Start(addr); return err == nil }, 20*time.Second, 10*time.Millisecond)
	emit(c, 2, 1000)
	require.Eventually(t, func() bool { return s2.Stats().Ingress > 0 }, 20*time.Second, time.Millisecond)
	require.NoError(t, c.Shutdown(testCtx(t)))

	st := checkClosed(t, c)
	received := uint64(len(buftest.Drain(buf1)) + len(buftest.Drain(buf2)))
	assert.Equal(t, uint64(3000), st.Emitted)
	assert.GreaterOrEqual(t, st.Reconnects, uint64(1))
	require.LessOrEqual(t, received, st.Sent, "nothing arrives twice in streaming mode")
	lost := st.Sent - received
	assert.LessOrEqual(t, lost, st.Unconfirmed, "what was lost uncounted was sent unconfirmed: %+v", st)
	assert.LessOrEqual(t, st.Confirmed, received)
	assert.Equal(t, st.Emitted, received+st.Dropped.Total()+lost)
	t.Logf("received %d, dropped %+v, unconfirmed %d (lost %d), reconnects %d", received, st.Dropped, st.Unconfirmed, lost, st.Reconnects)
	return st
}

// A server that refuses a batch (here: larger than its limit) ends the
// stream with an error. A stream carries no acknowledgement, so the Client
// learns it only at a later write, once the server's status has reached it:
// the refused batch, the batch before it and the batches written after it
// on the dead stream are unconfirmed (the server has only the first), and
// the batch whose write failed is retried on a fresh stream and arrives.
//
// When the status reaches the Client is up to the network and the
// scheduler, so the test does not guess: it emits one envelope at a time,
// each in its own batch, until the Client has reconnected, and counts them.
func TestClientStreamRefusedIsUnconfirmed(t *testing.T) {
	tp := newTLS(t)
	buf := newBuffer(t)
	s, addr := startServer(t, buf, WithTLS(tp.server), WithMaxMessageSize(2048))
	// Streams are not closed for confirmation by count while the test
	// runs, so the refused stream stays the Client's until it notices.
	c := newClient(t, addr, WithTLS(tp.client), WithBatch(1, time.Millisecond), WithConfirmEvery(1_000_000))
	sent := func(n uint64) func() bool { return func() bool { return c.Stats().Sent == n } }
	c.Emit(envelope.NewLog("small", []byte("x")))
	require.Eventually(t, func() bool { return s.Stats().Ingress == 1 }, 20*time.Second, time.Millisecond)
	c.Emit(envelope.NewLog("big", make([]byte, 4096)))
	require.Eventually(t, func() bool { return s.Stats().Rejected.TooLarge == 1 }, 20*time.Second, time.Millisecond)
	require.Eventually(t, sent(2), 20*time.Second, time.Millisecond)
	after := uint64(0) // envelopes emitted after the refused one
	for c.Stats().Reconnects == 0 {
		require.Less(t, after, uint64(10_000), "the Client never noticed the broken stream")
		c.Emit(envelope.NewLog("small", []byte("y")))
		after++
		require.Eventually(t, sent(2+after), 20*time.Second, time.Millisecond)
	}
	require.NoError(t, c.Shutdown(testCtx(t)))

	st := checkClosed(t, c)
	assert.Len(t, buftest.Drain(buf), 2, "x, and the last y on a fresh stream")
	assert.Empty(t, st.Dropped)
	assert.Equal(t, 2+after, st.Sent)
	assert.Equal(t, 1+after, st.Unconfirmed, "x, the refused batch and the y written on the dead stream")
	assert.Equal(t, uint64(1), st.Confirmed, "the last y, on a fresh stream")
	assert.Equal(t, uint64(1), st.Reconnects)
	assert.Equal(t, uint64(1), st.Retried)
	t.Logf("%d envelope(s) emitted after the refused one until the Client noticed", after)
}

// In acknowledged mode the refused batch is known: retried once, then
// counted dropped ("send"); nothing is unconfirmed.
func TestClientAcknowledgedCountsRefusedBatch(t *testing.T) {
	tp := newTLS(t)
	buf := newBuffer(t)
	s, addr := startServer(t, buf, WithTLS(tp.server), WithMaxMessageSize(2048))
	// A minute per Send only bounds a hang: a call that times out on a
	// loaded machine would be retried too, and the counts below would not
	// be determined.
	c := newClient(t, addr, WithTLS(tp.client), WithBatch(1, time.Millisecond), WithAcknowledged(time.Minute),
		WithBackoff(time.Millisecond, 10*time.Millisecond), WithLogger(slog.New(slog.NewTextHandler(tlogWriter{t}, nil))))
	c.Emit(envelope.NewLog("small", []byte("x")))
	c.Emit(envelope.NewLog("big", make([]byte, 3000)))
	c.Emit(envelope.NewLog("small", []byte("y")))
	require.NoError(t, c.Shutdown(testCtx(t)))

	st := checkClosed(t, c)
	assert.Len(t, buftest.Drain(buf), 2)
	assert.Equal(t, stats.Drops{CauseSend: 1}, st.Dropped)
	assert.Equal(t, uint64(2), st.Confirmed)
	assert.Zero(t, st.Unconfirmed)
	assert.Equal(t, uint64(2), s.Stats().Rejected.TooLarge, "tried twice")
	assert.Equal(t, uint64(1), st.Retried, "the refused envelope's batch was retried once")
}

// Close is immediate and idempotent, and returns only once the Client's
// goroutines have ended; Shutdown after Close says so; Emit after Close is
// counted.
func TestClientCloseIsImmediateAndIdempotent(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := lis.Addr().String()
	require.NoError(t, lis.Close()) // nobody listens: the Client keeps trying
	c, err := NewClient(addr, WithBatch(10, time.Millisecond), WithBackoff(time.Hour, time.Hour))
	require.NoError(t, err)
	emit(c, 2, 50)

	done := make(chan struct{})
	go func() {
		defer close(done)
		assert.NoError(t, c.Close())
	}()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("Close waited for the hour-long backoff")
	}
	require.NoError(t, c.Close(), "second Close")
	require.ErrorIs(t, c.Shutdown(context.Background()), ErrClientClosed)
	c.Emit(envelope.NewLog("late", nil))

	st := checkClosed(t, c)
	assert.Equal(t, stats.Drops{CauseClosed: 51}, st.Dropped, "what Close cut, and the late Emit")
}

// Close during a Shutdown that waits for an unreachable server cuts it
// short; both return once the goroutines have ended.
func TestClientCloseCutsShutdown(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := lis.Addr().String()
	require.NoError(t, lis.Close())
	c, err := NewClient(addr, WithBatch(10, time.Millisecond), WithBackoff(time.Hour, time.Hour))
	require.NoError(t, err)
	emit(c, 1, 5)
	shut := make(chan error, 1)
	go func() { shut <- c.Shutdown(context.Background()) }()
	require.Eventually(t, func() bool { return c.closed.Load() }, 20*time.Second, time.Millisecond)
	require.NoError(t, c.Close())
	select {
	case err := <-shut:
		require.ErrorIs(t, err, ErrClientClosed)
	case <-time.After(20 * time.Second):
		t.Fatal("Shutdown still running after Close returned")
	}
	st := checkClosed(t, c)
	assert.Equal(t, stats.Drops{CauseClosed: 5}, st.Dropped)
}

type tlogWriter struct{ t *testing.T }

func (w tlogWriter) Write(p []byte) (int, error) { w.t.Log(string(p)); return len(p), nil }
