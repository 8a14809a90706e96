package forward

import (
	"crypto/tls"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sluicelog/sluice/discovery"
	"github.com/sluicelog/sluice/internal/logtest"
	"github.com/sluicelog/sluice/internal/testtls"
	"github.com/sluicelog/sluice/stats"
)

// TestPoolNamesTLSFailures: a pool whose TLS settings do not match its
// router's (TLS against plaintext, plaintext against TLS, a router
// certificate from another CA) counts the failed handshake under its cause,
// says so at warn once, naming TLS and the router, reports that every
// router fails TLS in its stats, and logs that once.
func TestPoolNamesTLSFailures(t *testing.T) {
	ca, serverTLS, clientTLS := testtls.Must(t)
	other, err := testtls.NewCA("other")
	require.NoError(t, err)
	strangerTLS, err := other.ClientConfig()
	require.NoError(t, err)
	noCertTLS := &tls.Config{RootCAs: ca.Pool(), ServerName: "localhost", MinVersion: tls.VersionTLS12}
	tests := []struct {
		name      string
		routerTLS *tls.Config
		poolTLS   *tls.Config
		cause     string
		says      string
	}{
		{"TLS agent, plaintext router", nil, clientTLS, "not_tls", "failed: it does not speak TLS (does it serve plaintext?)"},
		{"plaintext agent, TLS router", serverTLS, nil, "plaintext_to_tls", "speaks TLS, but we dial it in plaintext: give us TLS settings for it"},
		{"router certificate of another CA", serverTLS, strangerTLS, "bad_certificate", "failed: it presented a certificate not signed by our CA"},
		{"no client certificate for a mutual TLS router", serverTLS, noCertTLS, "peer_rejected", "does not trust our certificate, or wants one we did not send)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := poolStartRouter(t, "z1", tt.routerTLS, false)
			logger, logs := logtest.New(slog.LevelWarn)
			// One stream, and a backoff long enough that the test sees one
			// attempt: the counts are exact.
			p, err := NewPool(discovery.NewStatic(r.endpoint()), WithTLS(tt.poolTLS), WithStreams(1),
				WithBackoff(time.Hour, time.Hour), WithConnectTimeout(5*time.Second), WithLogger(logger))
			require.NoError(t, err)
			defer p.Close()
			require.Eventually(t, func() bool { return p.Stats().TLSFailing == 1 }, 3*time.Second, time.Millisecond, "%+v %q", p.Stats(), logs.Lines())
			require.Eventually(t, func() bool { return len(logs.Lines()) == 2 }, 10*time.Second, time.Millisecond, "%q", logs.Lines())

			st := p.Stats()
			assert.Equal(t, map[string]uint64{tt.cause: 1}, st.TLSFailures)
			assert.Equal(t, 1, st.Routers)
			assert.Equal(t, 0, st.Streams)
			lines := logs.Lines()
			assert.Contains(t, lines[0], "level=WARN")
			assert.Contains(t, lines[0], "router "+r.Addr()+" ")
			assert.Contains(t, lines[0], tt.says)
			if tt.cause != "plaintext_to_tls" {
				assert.Contains(t, lines[0], "forward: TLS handshake with router "+r.Addr()+" failed")
			}
			assert.Contains(t, lines[0], "cause="+tt.cause)
			assert.Contains(t, lines[1], "forward: every router fails the TLS handshake")

			var failing, failures float64
			p.Report(func(m stats.Metric) {
				switch m.Name {
				case "tls_failing_routers":
					failing = m.Value
				case "tls_handshake_failures":
					failures += m.Value
				}
			})
			assert.Equal(t, 1.0, failing)
			assert.Equal(t, 1.0, failures)
		})
	}
}
