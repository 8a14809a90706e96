package tlswatch

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
)

// HTTPTransport returns tr as a RoundTripper whose TLS handshakes with
// peers w watches, as ClientCredentials does for gRPC: each failure is
// counted by cause and logged at warn once per peer (host:port) per
// episode. It sets tr.DialTLSContext (dialing with tr.DialContext, or a
// net.Dialer when that is nil), which does the handshake itself with
// tr.TLSClientConfig and hands the transport the *tls.Conn, so HTTP/2 and
// Response.TLS work as before. A peer that completes the handshake but
// then refuses our certificate (TLS 1.3 says so after our side is done)
// shows as a TLS alert on the request, and is counted as
// CausePeerRejected. A response ends the peer's episode. The returned
// RoundTripper closes tr's idle connections on CloseIdleConnections.
//
// Handshakes through an HTTP proxy (CONNECT) are the transport's own and
// are not watched.
func (w *Watch) HTTPTransport(tr *http.Transport) http.RoundTripper {
	dial := tr.DialContext
	if dial == nil {
		dial = (&net.Dialer{}).DialContext
	}
	tr.DialTLSContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		raw, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err // no handshake was tried
		}
		// Read the config now: the transport adds its ALPN protocols
		// (h2) to it before its first request.
		cfg := tr.TLSClientConfig.Clone()
		if cfg == nil {
			cfg = &tls.Config{MinVersion: tls.VersionTLS12}
		}
		if cfg.ServerName == "" {
			if host, _, err := net.SplitHostPort(addr); err == nil {
				cfg.ServerName = host
			}
		}
		if tr.TLSHandshakeTimeout > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, tr.TLSHandshakeTimeout)
			defer cancel()
		}
		conn := tls.Client(raw, cfg)
		if err := conn.HandshakeContext(ctx); err != nil {
			// A dial the transport cancelled (CloseIdleConnections, as a
			// closing reader calls, cancels the dials no request waits for)
			// is not the peer's doing.
			if !errors.Is(ctx.Err(), context.Canceled) {
				w.clientFailed(addr, Cause(err), clientReason(err), err)
				err = &handshakeError{err}
			}
			_ = raw.Close()
			return nil, err
		}
		return conn, nil
	}
	return &watchedTransport{tr: tr, w: w}
}

// handshakeError marks a failed handshake that the dialer has counted.
type handshakeError struct{ err error }

func (e *handshakeError) Error() string { return e.err.Error() }
func (e *handshakeError) Unwrap() error { return e.err }

type watchedTransport struct {
	tr *http.Transport
	w  *Watch
}

func (t *watchedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.tr.RoundTrip(req)
	if req.URL.Scheme != "https" {
		return resp, err
	}
	peer := httpAddr(req)
	var counted *handshakeError
	switch {
	case err == nil:
		t.w.succeeded(peer)
	case !errors.As(err, &counted) && answeredTLS(err):
		t.w.clientFailed(peer, CausePeerRejected, clientReason(err), err)
	}
	return resp, err
}

// CloseIdleConnections closes the transport's idle connections (so that
// http.Client.CloseIdleConnections reaches it).
func (t *watchedTransport) CloseIdleConnections() { t.tr.CloseIdleConnections() }

// httpAddr is the host:port the transport dials for an https request.
func httpAddr(req *http.Request) string {
	if req.URL.Port() != "" {
		return req.URL.Host
	}
	return net.JoinHostPort(req.URL.Hostname(), "443")
}
