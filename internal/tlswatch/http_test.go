package tlswatch

import (
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
