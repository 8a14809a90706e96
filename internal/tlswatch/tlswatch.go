package tlswatch

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"log/slog"
	"maps"
	"net"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"google.golang.org/grpc/credentials"

	"github.com/sluicelog/sluice/stats"
)

// Causes of failed handshakes.
const (
	// CauseNotTLS: the peer did not speak TLS (a plaintext client).
	CauseNotTLS = "not_tls"
	// CauseNoCertificate: the peer sent no client certificate where one
	// is required.
	CauseNoCertificate = "no_certificate"
	// CauseBadCertificate: the peer's certificate did not verify (unknown
	// CA, expired, wrong usage).
	CauseBadCertificate = "bad_certificate"
	// CausePeerRejected: the peer refused the handshake with a TLS alert
	// (it did not trust this server's certificate, or found no common
	// version or cipher suite).
	CausePeerRejected = "peer_rejected"
	// CauseTimeout: the handshake did not finish in time.
	CauseTimeout = "timeout"
	// CauseClosed: the peer closed the connection mid-handshake.
	CauseClosed = "closed"
	// CauseOther: anything else.
	CauseOther = "other"
)

// quiet is how long without failures ends a peer's episode.
const quiet = time.Minute

// maxPeers bounds the addresses remembered for "once per episode".
const maxPeers = 4096

// Watch counts and logs the failed handshakes of one component.
type Watch struct {
	component string
	peer      string // what the peers are, for a client's log lines ("router")
	logger    *slog.Logger
	now       func() time.Time

	mu       sync.Mutex
	failures map[string]uint64
	warned   map[string]time.Time // peer -> last failure of its episode
	failing  map[string]string    // peer -> cause of its last handshake, while it fails
}

// New returns a Watch logging for component (e.g. "ingress") to logger.
func New(component string, logger *slog.Logger) *Watch {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Watch{component: component, logger: logger, now: time.Now, warned: make(map[string]time.Time), failing: make(map[string]string)}
}

// Credentials returns c whose server handshakes w watches.
func (w *Watch) Credentials(c credentials.TransportCredentials) credentials.TransportCredentials {
	return &creds{TransportCredentials: c, w: w}
}

// Failures returns the failed handshakes by cause (nil when none).
func (w *Watch) Failures() map[string]uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return maps.Clone(w.failures)
}

// Cause classifies a handshake error.
func Cause(err error) string {
	var rh tls.RecordHeaderError
	var alert tls.AlertError
	var op *net.OpError
	var unknown x509.UnknownAuthorityError
	var verify *tls.CertificateVerificationError
	var invalid x509.CertificateInvalidError
	var ne net.Error
	switch {
	case errors.As(err, &rh):
		return CauseNotTLS
	case strings.Contains(err.Error(), "didn't provide a certificate"):
		return CauseNoCertificate
	case errors.As(err, &verify), errors.As(err, &unknown), errors.As(err, &invalid):
		return CauseBadCertificate
	case errors.As(err, &alert), errors.As(err, &op) && op.Op == "remote error":
		return CausePeerRejected
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return CauseTimeout
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, syscall.ECONNRESET), errors.Is(err, net.ErrClosed):
		return CauseClosed
	}
	return CauseOther
}

// episode notes a failure of cause with peer and reports whether it opens
// an episode (to be logged).
func (w *Watch) episode(peer, cause string) bool {
	now := w.now()
	w.mu.Lock()
	defer w.mu.Unlock()
	last, seen := w.warned[peer]
	if len(w.warned) >= maxPeers {
		clear(w.warned)
	}
	if len(w.failing) >= maxPeers {
		clear(w.failing)
	}
	w.warned[peer] = now
	w.failing[peer] = cause
	return !seen || now.Sub(last) >= quiet
}

// count counts a failure of cause; it is called after the failure's log
// line, so that whoever sees the count sees the line.
func (w *Watch) count(cause string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.failures == nil {
		w.failures = make(map[string]uint64)
	}
	w.failures[cause]++
}

func (w *Watch) failed(addr net.Addr, err error) {
	cause := Cause(err)
	if w.episode(peerHost(addr), cause) {
		msg := w.component + ": TLS handshake failed"
		if cause == CauseNotTLS {
			msg = w.component + ": TLS handshake failed: the peer does not speak TLS (a plaintext client?)"
		}
		level := slog.LevelWarn
		if cause == CauseClosed {
			// A TCP probe (load balancer health check) connects and
			// closes: counted, but no warning.
			level = slog.LevelDebug
		}
		w.logger.Log(context.Background(), level, msg, "peer", addrString(addr), "cause", cause, "err", err)
	}
	w.count(cause)
}

// succeeded ends peer's episode.
func (w *Watch) succeeded(peer string) {
	w.mu.Lock()
	delete(w.warned, peer)
	delete(w.failing, peer)
	w.mu.Unlock()
}

// Failing reports whether the last handshake with peer (a client's dial
// target, a server's client host) failed, within the episode's memory.
func (w *Watch) Failing(peer string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	_, ok := w.failing[peer]
	return ok
}

func (w *Watch) failingWith(peer string) string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.failing[peer]
}

func peerHost(addr net.Addr) string {
	s := addrString(addr)
	if h, _, err := net.SplitHostPort(s); err == nil {
		return h
	}
	return s
}

func addrString(addr net.Addr) string {
	if addr == nil {
		return ""
	}
	return addr.String()
}

type creds struct {
	credentials.TransportCredentials
	w *Watch
}

func (c *creds) ServerHandshake(conn net.Conn) (net.Conn, credentials.AuthInfo, error) {
	addr := conn.RemoteAddr()
	out, info, err := c.TransportCredentials.ServerHandshake(conn)
	if err != nil {
		c.w.failed(addr, err)
		return out, info, err
	}
	c.w.succeeded(peerHost(addr))
	return out, info, nil
}

func (c *creds) Clone() credentials.TransportCredentials {
	return &creds{TransportCredentials: c.TransportCredentials.Clone(), w: c.w}
}

// Report emits tls_handshake_failures{cause} for each cause seen.
func (w *Watch) Report(emit func(stats.Metric)) {
	help := "TLS handshakes with clients that failed, by cause."
	if w.peer != "" {
		help = "TLS handshakes with " + w.peer + "s that failed, by cause (plaintext_to_tls: one that speaks TLS, dialed in plaintext)."
	}
	f := w.Failures()
	for _, c := range slices.Sorted(maps.Keys(f)) {
		emit(stats.CounterOf("tls_handshake_failures", help, f[c], stats.Tag{Key: stats.TagCause, Value: c}))
	}
}
