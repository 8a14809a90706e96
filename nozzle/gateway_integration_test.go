package nozzle_test

import (
	"fmt"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sluicelog/sluice/egress/serve"
	"github.com/sluicelog/sluice/envelope"
	"github.com/sluicelog/sluice/internal/testtls"
	"github.com/sluicelog/sluice/nozzle"
)

// startGateway serves an serve.Gateway over a Router on loopback HTTPS.
func startGateway(t *testing.T, opts ...serve.GatewayOption) (*serve.Router, string, *nozzle.GatewayReader) {
	ca, _, _ := testtls.Must(t)
	rt, err := serve.NewRouter(serve.WithSubscriptionChannel(100000))
	require.NoError(t, err)
	gw, err := serve.NewGateway(rt, opts...)
	require.NoError(t, err)
	srv := httptest.NewUnstartedServer(gw)
	srv.TLS, err = ca.ServerConfig(false)
	require.NoError(t, err)
	srv.StartTLS()
	clientTLS, err := ca.ClientConfig()
	require.NoError(t, err)
	g, err := nozzle.NewGatewayReader(srv.URL, logRequest("gw"), nozzle.WithTLS(clientTLS), nozzle.WithBufferSize(100000),
		nozzle.WithBackoff(10*time.Millisecond, 100*time.Millisecond))
	require.NoError(t, err)
	t.Cleanup(func() {
		g.Close()
		gw.Close()
		srv.Close()
		rt.Close()
	})
	return rt, srv.URL, g
}

func waitRouterSubs(t *testing.T, rt *serve.Router, n int) {
	t.Helper()
	require.Eventually(t, func() bool { return rt.Stats().Subscriptions == n }, 20*time.Second, 5*time.Millisecond)
}

// 10,000 batches (one envelope each) through serve.Gateway arrive in
// order and complete.
func TestGatewayReaderAgainstGatewayKeepsOrder(t *testing.T) {
	rt, _, g := startGateway(t, serve.WithBatch(1, 10*time.Millisecond))
	waitRouterSubs(t, rt, 1)
	go func() {
		for i := range 10000 {
			if err := rt.PublishEnvelope(envelope.NewLog("app", strconv.AppendInt(nil, int64(i), 10))); err != nil {
				return
			}
		}
	}()
	ctx := testCtx(t)
	n := 0
	for e, err := range g.Envelopes(ctx) {
		require.NoError(t, err)
		require.Equal(t, strconv.Itoa(n), string(e.GetLog().GetPayload()))
		n++
		if n == 10000 {
			break
		}
	}
	st := g.Stats()
	assert.Equal(t, uint64(10000), st.Streams[0].Batches)
	assert.Empty(t, st.Dropped)
	assert.Zero(t, st.Malformed)
	assert.Empty(t, rt.Stats().Dropped)
}

// The Gateway ends its streams on its timeout with a closing event; the
// reader comes back at once and keeps receiving.
func TestGatewayReaderReconnectsAfterGatewayClosesStream(t *testing.T) {
	rt, _, g := startGateway(t, serve.WithStreamTimeout(200*time.Millisecond), serve.WithBatch(10, 10*time.Millisecond))
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(2 * time.Millisecond):
			}
			rt.PublishEnvelope(envelope.NewLog("app", fmt.Appendf(nil, "%d", i)))
		}
	}()
	defer func() { close(stop); <-done }()
	for range 3 {
		before := g.Stats()
		require.Eventually(t, func() bool {
			st := g.Stats()
			return st.Streams[0].Closings > before.Streams[0].Closings && st.Received > before.Received
		}, 20*time.Second, 5*time.Millisecond)
	}
	// Received after the third closing: the stream was re-opened.
	after := g.Stats()
	require.Eventually(t, func() bool { return g.Stats().Received > after.Received }, 20*time.Second, 5*time.Millisecond)
	st := g.Stats()
	assert.GreaterOrEqual(t, st.Reconnects, uint64(3))
	assert.NoError(t, st.LastError, "a closing event is not an error")
	ctx := testCtx(t)
	prev := -1
	for range 50 { // what arrived is in order
		e, err := g.Next(ctx)
		require.NoError(t, err)
		n, err := strconv.Atoi(string(e.GetLog().GetPayload()))
		require.NoError(t, err)
		require.Greater(t, n, prev)
		prev = n
	}
}
