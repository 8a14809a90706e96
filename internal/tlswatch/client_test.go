package tlswatch

import (
	"crypto/tls"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sluicelog/sluice/internal/testtls"
)

// TestClientReason: real failed client handshakes against a TLS listener
// get a cause and a reason in plain words.
func TestClientReason(t *testing.T) {
	_, serverTLS, clientTLS := testtls.Must(t)
	serverTLS = serverTLS.Clone()
	serverTLS.ClientAuth = tls.NoClientCert
	lis, err := tls.Listen("tcp", "127.0.0.1:0", serverTLS)
	require.NoError(t, err)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := lis.Accept()
			if err != nil {
				return
			}
			_ = c.(*tls.Conn).Handshake()
			c.Close()
		}
	}()
	defer func() { lis.Close(); <-done }()
	other, err := testtls.NewCA("other")
	require.NoError(t, err)

	wrongName := clientTLS.Clone()
	wrongName.ServerName = "elsewhere.example"
	tests := []struct {
		name   string
		cfg    *tls.Config
		cause  string
		reason string
	}{
		{"unknown CA", &tls.Config{RootCAs: other.Pool(), ServerName: "localhost", MinVersion: tls.VersionTLS12}, CauseBadCertificate, "it presented a certificate not signed by our CA"},
		{"wrong name", wrongName, CauseBadCertificate, "its certificate is not valid for the name elsewhere.example"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := &net.Dialer{Timeout: 5 * time.Second}
			c, err := tls.DialWithDialer(d, "tcp", lis.Addr().String(), tt.cfg)
			if c != nil {
				c.Close()
			}
			require.Error(t, err)
			assert.Equal(t, tt.cause, Cause(err))
			assert.Equal(t, tt.reason, clientReason(err))
		})
	}
	assert.Equal(t, "it does not speak TLS (does it serve plaintext?)", clientReason(tls.RecordHeaderError{Msg: "first record does not look like a TLS handshake"}))
}
