package tlswatch

import (
	"context"
	"crypto/tls"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/sluicelog/sluice/internal/logtest"
	"github.com/sluicelog/sluice/internal/testtls"
)

// TestWatch: a real gRPC server with mutual TLS sees a plaintext client, a
// client without a certificate, a good client, a client with a certificate
// of another CA and a client that does not trust the server: each failure
// is counted under its cause, and logged at warn once per episode.
func TestWatch(t *testing.T) {
	ca, serverTLS, clientTLS := testtls.Must(t)
	logger, logs := logtest.New(slog.LevelWarn)
	w := New("egress", logger)
	gs := grpc.NewServer(grpc.Creds(w.Credentials(credentials.NewTLS(serverTLS))))
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	served := make(chan struct{})
	go func() { defer close(served); _ = gs.Serve(lis) }()
	defer func() { gs.Stop(); <-served }()
	addr := lis.Addr().String()

	total := func() uint64 {
		var n uint64
		for _, v := range w.Failures() {
			n += v
		}
		return n
	}
	waitFailures := func(n uint64) {
		t.Helper()
		require.Eventually(t, func() bool { return total() == n }, 10*time.Second, time.Millisecond)
	}
	handshake := func(cfg *tls.Config) {
		t.Helper()
		c, err := tls.Dial("tcp", addr, cfg)
		if err == nil {
			// TLS 1.3: the server checks the client's certificate after the
			// client's side is done; read to learn the outcome.
			_ = c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
			_, _ = c.Read(make([]byte, 1))
			c.Close()
		}
	}

	// A plaintext client (what grpc's insecure credentials send first).
	c, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	_, err = c.Write([]byte("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"))
	require.NoError(t, err)
	_, _ = c.Read(make([]byte, 1))
	c.Close()
	waitFailures(1)

	// No client certificate: same peer, same episode, not logged again.
	handshake(&tls.Config{RootCAs: ca.Pool(), ServerName: "localhost", MinVersion: tls.VersionTLS12})
	waitFailures(2)

	// A good client over gRPC ends the episode.
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(credentials.NewTLS(clientTLS)))
	require.NoError(t, err)
	cc.Connect()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for s := cc.GetState(); s.String() != "READY"; s = cc.GetState() {
		require.True(t, cc.WaitForStateChange(ctx, s), "never ready")
	}
	cc.Close()

	// A certificate from another CA, and a client that distrusts the server.
	other, err := testtls.NewCA("other")
	require.NoError(t, err)
	pair, _, _, err := other.Issue("stranger")
	require.NoError(t, err)
	handshake(&tls.Config{
		// Present it although the server asks for certificates of its CA.
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &pair, nil },
		RootCAs:              ca.Pool(), ServerName: "localhost", MinVersion: tls.VersionTLS12,
	})
	waitFailures(3)
	handshake(&tls.Config{RootCAs: other.Pool(), ServerName: "localhost", MinVersion: tls.VersionTLS12})
	waitFailures(4)

	assert.Equal(t, map[string]uint64{CauseNotTLS: 1, CauseNoCertificate: 1, CauseBadCertificate: 1, CausePeerRejected: 1}, w.Failures())
	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	require.Len(t, lines, 2, logs.String())
	assert.Contains(t, lines[0], "level=WARN")
	assert.Contains(t, lines[0], "egress: TLS handshake failed: the peer does not speak TLS (a plaintext client?)")
	assert.Contains(t, lines[0], "cause=not_tls")
	assert.Contains(t, lines[1], "cause=bad_certificate")
}

func TestEpisodeEndsAfterQuiet(t *testing.T) {
	logger, logs := logtest.New(slog.LevelInfo)
	w := New("x", logger)
	now := time.Unix(0, 0)
	w.now = func() time.Time { return now }
	addr := &net.TCPAddr{IP: net.IPv4(10, 0, 0, 1), Port: 5}
	err := tls.RecordHeaderError{Msg: "first record does not look like a TLS handshake"}
	w.failed(addr, err)
	now = now.Add(30 * time.Second)
	w.failed(addr, err)
	now = now.Add(quiet)
	w.failed(addr, err)
	assert.Equal(t, 2, strings.Count(logs.String(), "level=WARN"))
	assert.Equal(t, map[string]uint64{CauseNotTLS: 3}, w.Failures())
}
