package nozzle_test

import (
	"crypto/tls"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sluicelog/sluice/discovery"
	"github.com/sluicelog/sluice/internal/logtest"
	"github.com/sluicelog/sluice/internal/testtls"
	"github.com/sluicelog/sluice/nozzle"
	"github.com/sluicelog/sluice/stats"
)

// A Reader whose TLS settings do not match its router's says why, once,
// at warn, and counts it by cause; a plaintext Reader pointed at a TLS
// router is told that the router speaks TLS. A long backoff makes one
// attempt each, so the counts are exact.
func TestReaderNamesTLSFailures(t *testing.T) {
	_, serverTLS, _ := testtls.Must(t)
	_, _, strangerTLS := testtls.Must(t) // a client of another CA
	router := startFakeRouter(t, serverTLS)
	addr := router.Addr()

	logger, logs := logtest.New(slog.LevelWarn)
	r, err := nozzle.NewReader(addr, logRequest("s1"), nozzle.WithTLS(strangerTLS), nozzle.WithLogger(logger), nozzle.WithBackoff(time.Hour, time.Hour))
	require.NoError(t, err)
	defer r.Close()
	require.Eventually(t, func() bool { return r.Stats().TLSFailures != nil }, 10*time.Second, time.Millisecond)
	assert.Equal(t, map[string]uint64{"bad_certificate": 1}, r.Stats().TLSFailures)
	assert.Equal(t, 1, strings.Count(logs.String(), `level=WARN msg="nozzle: TLS handshake with router `+addr+` failed: it presented a certificate not signed by our CA"`), logs.String())
	var got []stats.Metric
	r.Report(func(m stats.Metric) { got = append(got, m) })
	assert.Contains(t, got, stats.CounterOf("tls_handshake_failures", "TLS handshakes with routers that failed, by cause (plaintext_to_tls: one that speaks TLS, dialed in plaintext).", 1,
		stats.Tag{Key: stats.TagCause, Value: "bad_certificate"}))

	logger, logs = logtest.New(slog.LevelWarn)
	plain, err := nozzle.NewReader(addr, logRequest("s1"), nozzle.WithLogger(logger), nozzle.WithBackoff(time.Hour, time.Hour))
	require.NoError(t, err)
	defer plain.Close()
	require.Eventually(t, func() bool { return plain.Stats().TLSFailures != nil }, 10*time.Second, time.Millisecond)
	assert.Equal(t, map[string]uint64{"plaintext_to_tls": 1}, plain.Stats().TLSFailures)
	assert.Equal(t, 1, strings.Count(logs.String(), `level=WARN msg="nozzle: router `+addr+` speaks TLS, but we dial it in plaintext: give us TLS settings for it"`), logs.String())
}

// A Firehose counts the TLS failures of all its routers' streams: two
// routers of another CA, one failed handshake each.
func TestFirehoseNamesTLSFailures(t *testing.T) {
	_, serverTLS, _ := testtls.Must(t)
	_, _, strangerTLS := testtls.Must(t)
	r1, r2 := startFakeRouter(t, serverTLS), startFakeRouter(t, serverTLS)
	logger, logs := logtest.New(slog.LevelWarn)
	f, err := nozzle.NewFirehose(discovery.NewStatic(ep(r1), ep(r2)), logRequest("shard"),
		nozzle.WithTLS(strangerTLS), nozzle.WithLogger(logger), nozzle.WithBackoff(time.Hour, time.Hour))
	require.NoError(t, err)
	defer f.Close()
	require.Eventually(t, func() bool { return f.Stats().TLSFailures["bad_certificate"] == 2 }, 10*time.Second, time.Millisecond)
	for _, r := range []string{r1.Addr(), r2.Addr()} {
		assert.Equal(t, 1, strings.Count(logs.String(), `msg="nozzle: TLS handshake with router `+r+` failed: it presented a certificate not signed by our CA"`), logs.String())
	}
	assert.Equal(t, map[string]uint64{"bad_certificate": 2}, f.Stats().TLSFailures)
}

// A GatewayReader counts and names its failed TLS handshakes with the
// gateway as a Reader does with routers: a gateway of another CA
// (bad_certificate), a gateway that refuses our certificate after the
// handshake (TLS 1.3: peer_rejected) and a plaintext gateway dialed with
// https (not_tls). A long backoff makes one attempt each.
func TestGatewayReaderNamesTLSFailures(t *testing.T) {
	ca, serverTLS, _ := testtls.Must(t)
	_, _, strangerTLS := testtls.Must(t) // a client of another CA
	untrusted := strangerTLS.Clone()     // trusts the gateway, but its certificate is of another CA
	untrusted.RootCAs = ca.Pool()
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	tlsGateway := httptest.NewUnstartedServer(ok)
	tlsGateway.TLS = serverTLS
	tlsGateway.StartTLS()
	defer tlsGateway.Close()
	plainGateway := httptest.NewServer(ok)
	defer plainGateway.Close()

	tests := []struct {
		name, url string
		tls       *tls.Config
		cause     string
		reason    string
	}{
		{"unknown CA", tlsGateway.URL, strangerTLS, "bad_certificate", "it presented a certificate not signed by our CA"},
		{"refused", tlsGateway.URL, untrusted, "peer_rejected", "it refused the handshake (it does not trust our certificate, or wants one we did not send)"},
		{"plaintext", strings.Replace(plainGateway.URL, "http:", "https:", 1), strangerTLS, "not_tls", "it does not speak TLS (does it serve plaintext?)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			logger, logs := logtest.New(slog.LevelWarn)
			g, err := nozzle.NewGatewayReader(tt.url, logRequest("s1"), nozzle.WithTLS(tt.tls), nozzle.WithLogger(logger), nozzle.WithBackoff(time.Hour, time.Hour))
			require.NoError(t, err)
			defer g.Close()
			require.Eventually(t, func() bool { return g.Stats().TLSFailures != nil }, 10*time.Second, time.Millisecond)
			assert.Equal(t, map[string]uint64{tt.cause: 1}, g.Stats().TLSFailures)
			addr := strings.TrimPrefix(tt.url, "https://")
			assert.Equal(t, 1, strings.Count(logs.String(), `level=WARN msg="nozzle: TLS handshake with gateway `+addr+` failed: `+tt.reason+`"`), logs.String())
			var got []stats.Metric
			g.Report(func(m stats.Metric) { got = append(got, m) })
			assert.Contains(t, got, stats.CounterOf("tls_handshake_failures", "TLS handshakes with gateways that failed, by cause (plaintext_to_tls: one that speaks TLS, dialed in plaintext).", 1,
				stats.Tag{Key: stats.TagCause, Value: tt.cause}))
		})
	}
}

// A GatewayReader that keeps failing against the same gateway warns once
// for the episode, and counts every failure; a handshake its Close cuts
// short is not one.
func TestGatewayReaderWarnsOncePerEpisode(t *testing.T) {
	_, serverTLS, _ := testtls.Must(t)
	_, _, strangerTLS := testtls.Must(t)
	gw := httptest.NewUnstartedServer(http.NotFoundHandler())
	gw.TLS = serverTLS
	gw.StartTLS()
	defer gw.Close()
	logger, logs := logtest.New(slog.LevelWarn)
	g, err := nozzle.NewGatewayReader(gw.URL, logRequest("s1"), nozzle.WithTLS(strangerTLS), nozzle.WithLogger(logger), nozzle.WithBackoff(time.Millisecond, 5*time.Millisecond))
	require.NoError(t, err)
	require.Eventually(t, func() bool { return g.Stats().TLSFailures["bad_certificate"] >= 3 }, 10*time.Second, time.Millisecond)
	require.NoError(t, g.Close())
	assert.Equal(t, 1, strings.Count(logs.String(), "nozzle: TLS handshake with gateway"), logs.String())
	assert.Equal(t, []string{"bad_certificate"}, slices.Collect(maps.Keys(g.Stats().TLSFailures)), "a handshake cut short by Close is not a failure")
}
