package tlswatch

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sluicelog/sluice/internal/testtls"
)

// A watched transport still speaks HTTP/2 and fills Response.TLS (its
// dialer hands the transport the *tls.Conn), and a response ends the
// peer's episode.
func TestHTTPTransportKeepsHTTP2(t *testing.T) {
	_, serverTLS, clientTLS := testtls.Must(t)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	srv.TLS = serverTLS
	srv.EnableHTTP2 = true
	srv.StartTLS()
	defer srv.Close()

	w := NewClient("test", "gateway", nil)
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = clientTLS
	c := &http.Client{Transport: w.HTTPTransport(tr)}
	defer c.CloseIdleConnections()
	peer := srv.Listener.Addr().String()
	w.clientFailed(peer, CauseOther, "earlier", nil)
	require.True(t, w.Failing(peer))

	resp, err := c.Get(srv.URL)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	assert.Equal(t, 2, resp.ProtoMajor)
	assert.NotNil(t, resp.TLS)
	assert.False(t, w.Failing(peer))
	assert.Equal(t, map[string]uint64{CauseOther: 1}, w.Failures())
}

// A handshake the transport cancels (its CloseIdleConnections cancels the
// dials no request waits for any more, as when a reader closes while a
// peer is slow to answer) is not counted as the peer's failure.
func TestHTTPTransportCancelledHandshakeIsNotAFailure(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer lis.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := lis.Accept()
		if err == nil {
			accepted <- c // held open, silent: the handshake waits
		}
	}()
	_, _, clientTLS := testtls.Must(t)
	w := NewClient("test", "gateway", nil)
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = clientTLS
	w.HTTPTransport(tr)

	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		c := <-accepted
		cancel()
		_, _ = io.Copy(io.Discard, c)
		_ = c.Close()
	}()
	_, err = tr.DialTLSContext(ctx, "tcp", lis.Addr().String())
	require.ErrorIs(t, err, context.Canceled)
	assert.Nil(t, w.Failures())
	assert.False(t, w.Failing(lis.Addr().String()))
}
