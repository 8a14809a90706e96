package ingress

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sluicelog/sluice/envelope"
	"github.com/sluicelog/sluice/internal/logtest"
)

// TestClientNamesTLSFailures: a plaintext Client pointed at a TLS Server
// counts plaintext_to_tls and says so at warn, once, naming TLS and the
// server; a TLS Client pointed at a plaintext Server counts not_tls. Both
// servers count the other side of it.
func TestClientNamesTLSFailures(t *testing.T) {
	tp := newTLS(t)
	tlsSrv, tlsAddr := startServer(t, newBuffer(t), WithTLS(tp.server))
	_, plainAddr := startServer(t, newBuffer(t))

	logger, logs := logtest.New(slog.LevelWarn)
	// A long backoff: one attempt each, so the counts are exact.
	plain, err := NewClient(tlsAddr, WithLogger(logger), WithBackoff(time.Hour, time.Hour))
	require.NoError(t, err)
	defer plain.Close()
	plain.Emit(envelope.NewLog("app", []byte("x")))
	require.Eventually(t, func() bool { return plain.Stats().TLSFailures != nil }, 10*time.Second, time.Millisecond)
	assert.Equal(t, map[string]uint64{"plaintext_to_tls": 1}, plain.Stats().TLSFailures)
	assert.Equal(t, 1, strings.Count(logs.String(), `level=WARN msg="ingress: server `+tlsAddr+` speaks TLS, but we dial it in plaintext: give us TLS settings for it"`), logs.String())
	// The server saw a plaintext client, and the probe's handshake without
	// a certificate.
	require.Eventually(t, func() bool { return len(tlsSrv.Stats().TLSFailures) > 0 }, 10*time.Second, time.Millisecond)
	assert.Contains(t, tlsSrv.Stats().TLSFailures, "not_tls")

	logger, logs = logtest.New(slog.LevelWarn)
	tlsClient, err := NewClient(plainAddr, WithLogger(logger), WithTLS(tp.client), WithBackoff(time.Hour, time.Hour))
	require.NoError(t, err)
	defer tlsClient.Close()
	tlsClient.Emit(envelope.NewLog("app", []byte("x")))
	require.Eventually(t, func() bool { return tlsClient.Stats().TLSFailures != nil }, 10*time.Second, time.Millisecond)
	assert.Equal(t, map[string]uint64{"not_tls": 1}, tlsClient.Stats().TLSFailures)
	assert.Equal(t, 1, strings.Count(logs.String(), `level=WARN msg="ingress: TLS handshake with server `+plainAddr+` failed: it does not speak TLS (does it serve plaintext?)"`), logs.String())
}
