package tlswatch

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"google.golang.org/grpc/credentials"
)

// CausePlaintextToTLS: a client dialing in plaintext reached a peer that
// speaks TLS (it closed the connection without a word, and a TLS probe
// got a TLS answer).
const CausePlaintextToTLS = "plaintext_to_tls"

// probeTimeout bounds the TLS probe of a peer that closed a plaintext
// connection.
const probeTimeout = 2 * time.Second

// NewClient returns a Watch of a client's handshakes with its peers,
// which log lines call peer (e.g. "router"), logging for component to
// logger.
func NewClient(component, peer string, logger *slog.Logger) *Watch {
	w := New(component, logger)
	w.peer = peer
	return w
}

// ClientCredentials returns c whose client handshakes with peer (the dial
// target's name in log lines and for Failing; "" takes the authority grpc
// hands to the handshake, which is the TLS server name when one is set)
// w watches. Each failure is counted by cause and logged at warn once per
// peer per episode, saying what went wrong in plain words ("TLS handshake with
// router X failed: it presented a certificate not signed by our CA"). For
// plaintext credentials (grpc's insecure), a peer that closes the
// connection before it says anything is probed once with a TLS handshake:
// if it answers in TLS, that is counted and logged as CausePlaintextToTLS.
func (w *Watch) ClientCredentials(c credentials.TransportCredentials, peer string) credentials.TransportCredentials {
	return &clientCreds{TransportCredentials: c, w: w, peer: peer, plain: c.Info().SecurityProtocol == "insecure"}
}

type clientCreds struct {
	credentials.TransportCredentials
	w     *Watch
	peer  string
	plain bool
}

func (c *clientCreds) ClientHandshake(ctx context.Context, authority string, raw net.Conn) (net.Conn, credentials.AuthInfo, error) {
	peer := c.peer
	if peer == "" {
		peer = authority
	}
	conn, info, err := c.TransportCredentials.ClientHandshake(ctx, authority, raw)
	if err != nil {
		c.w.clientFailed(peer, Cause(err), clientReason(err), err)
		return conn, info, err
	}
	// The episode ends when the peer says something: with TLS 1.3 a server
	// that refuses our certificate does so after our side of the handshake
	// is done, on the first read.
	return &watchedConn{Conn: conn, w: c.w, peer: peer, plain: c.plain}, info, nil
}

func (c *clientCreds) Clone() credentials.TransportCredentials {
	return &clientCreds{TransportCredentials: c.TransportCredentials.Clone(), w: c.w, peer: c.peer, plain: c.plain}
}

// clientFailed counts and (once per episode) logs a failed handshake with
// peer.
func (w *Watch) clientFailed(peer, cause, reason string, err error) {
	if w.episode(peer, cause) {
		msg := fmt.Sprintf("%s: TLS handshake with %s %s failed: %s", w.component, w.peer, peer, reason)
		if cause == CausePlaintextToTLS {
			msg = fmt.Sprintf("%s: %s %s speaks TLS, but we dial it in plaintext: give us TLS settings for it", w.component, w.peer, peer)
		}
		args := []any{w.peer, peer, "cause", cause}
		if err != nil {
			args = append(args, "err", err)
		}
		w.logger.Warn(msg, args...)
	}
	w.count(cause)
}

// clientReason says in plain words why a client's handshake failed.
func clientReason(err error) string {
	var unknown x509.UnknownAuthorityError
	var host x509.HostnameError
	var invalid x509.CertificateInvalidError
	switch cause := Cause(err); {
	case cause == CauseNotTLS:
		return "it does not speak TLS (does it serve plaintext?)"
	case errors.As(err, &unknown):
		return "it presented a certificate not signed by our CA"
	case errors.As(err, &host):
		return "its certificate is not valid for the name " + host.Host
	case errors.As(err, &invalid) && invalid.Reason == x509.Expired:
		return "its certificate has expired or is not valid yet"
	case cause == CauseBadCertificate:
		return "its certificate did not verify"
	case cause == CausePeerRejected:
		return "it refused the handshake (it does not trust our certificate, or wants one we did not send)"
	case cause == CauseTimeout:
		return "the handshake timed out"
	case cause == CauseClosed:
		return "it closed the connection during the handshake"
	}
	return "the handshake failed"
}

// watchedConn is a client connection whose first read tells how the
// handshake went: a TLS peer that refuses our certificate sends an alert
// instead of data (TLS 1.3), and a TLS server closes a plaintext client's
// connection without a word.
type watchedConn struct {
	net.Conn
	w     *Watch
	peer  string
	plain bool
	heard atomic.Bool
	once  sync.Once
}

func (c *watchedConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 && !c.heard.Swap(true) {
		c.w.succeeded(c.peer)
	}
	if n == 0 {
		c.unheard(err)
	}
	return n, err
}

// Write watches writes too: a peer that closed the connection may first
// show as a failed write (grpc then closes the connection, and the read
// sees only that).
func (c *watchedConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	if err != nil && (closedUnheard(err) || answeredTLS(err)) {
		c.unheard(err)
	}
	return n, err
}

// unheard handles err from a connection, before anything was heard on it.
func (c *watchedConn) unheard(err error) {
	switch {
	case err == nil || c.heard.Load():
	case !c.plain && answeredTLS(err):
		c.once.Do(func() { c.w.clientFailed(c.peer, CausePeerRejected, clientReason(err), err) })
	case !c.plain && closedUnheard(err):
		// The alert may be lost: the server closes at once, and the reset
		// our unread preface provokes can discard it.
		c.once.Do(func() {
			c.w.clientFailed(c.peer, CausePeerRejected, "it closed the connection after the handshake without a word (it probably does not trust our certificate, or wants one we did not send)", err)
		})
	case c.plain && closedUnheard(err):
		c.once.Do(func() { c.w.probe(c.peer, c.RemoteAddr()) })
	}
}

// closedUnheard reports whether err is the peer closing the connection.
func closedUnheard(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// probe asks addr, which closed a plaintext connection unheard, whether it
// speaks TLS; if so it counts and logs CausePlaintextToTLS for peer. A
// peer already known to speak TLS in this episode is not probed again.
func (w *Watch) probe(peer string, addr net.Addr) {
	if addr == nil {
		return
	}
	if w.failingWith(peer) != CausePlaintextToTLS {
		d := &net.Dialer{Timeout: probeTimeout}
		// The probe only asks whether the peer answers in TLS: it checks no
		// certificate and sends no data.
		conn, err := tls.DialWithDialer(d, "tcp", addr.String(), &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12}) //nolint:gosec // see above
		if err == nil {
			_ = conn.Close()
		} else if !answeredTLS(err) {
			return
		}
	}
	w.clientFailed(peer, CausePlaintextToTLS, "", nil)
}

// answeredTLS reports whether a failed client handshake got a TLS answer
// (an alert: the peer speaks TLS but refused us).
func answeredTLS(err error) bool {
	var alert tls.AlertError
	var op *net.OpError
	return errors.As(err, &alert) || errors.As(err, &op) && op.Op == "remote error"
}
