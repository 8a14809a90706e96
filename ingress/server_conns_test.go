package ingress

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sluicelog/sluice/internal/buftest"
	"github.com/sluicelog/sluice/internal/connlimit/connlimittest"
	"github.com/sluicelog/sluice/internal/wire"
	"github.com/sluicelog/sluice/stats"
)

// TestServerMaxConnections: idle TCP connections beyond the limit are
// closed at once and counted; once they go, a real sender over mutual TLS
// gets in and is served.
func TestServerMaxConnections(t *testing.T) {
	tp := newTLS(t)
	buf := newBuffer(t)
	srv, addr := startServer(t, buf, WithTLS(tp.server), WithMaxConnections(2))
	connlimittest.Exceed(t, addr, 2, func() (int, uint64) {
		st := srv.Stats()
		return st.Connections, st.RefusedConnections
	})()
	cc := dial(t, addr, tp.client)
	require.NoError(t, sendBatches(testCtx(t), cc, &wire.Batch{Envelopes: logs(t, "app", 3)}))
	require.Eventually(t, func() bool { return srv.Stats().Ingress == 3 }, 10*time.Second, time.Millisecond)
	assert.Len(t, buftest.Drain(buf), 3)
	assert.Equal(t, uint64(1), srv.Stats().RefusedConnections)
	var refused float64
	srv.Report(func(m stats.Metric) {
		if m.Name == "refused_connections" {
			refused = m.Value
		}
	})
	assert.Equal(t, 1.0, refused)
}

func TestMaxConnectionsOption(t *testing.T) {
	for _, tt := range []struct {
		n, want int
	}{{0, DefaultMaxConnections}, {5, 5}, {-1, 0}} {
		c := defaultServerConfig()
		WithMaxConnections(tt.n).applyServer(&c)
		assert.Equal(t, tt.want, c.maxConns, "WithMaxConnections(%d)", tt.n)
	}
}
