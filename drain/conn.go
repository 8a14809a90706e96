package drain

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync/atomic"
	"time"
)

// writer delivers formatted batches to one drain. Its methods are called
// from the drain's goroutine only.
type writer interface {
	// write delivers b, connecting first if needed; an error means b may
	// not have arrived (the connection is dropped).
	write(ctx context.Context, b []byte) error
	// connected reports whether a connection is open.
	connected() bool
	// idle returns a context that ends when the receiver closes the open
	// connection (or its parent ends), to wait on while idle; nil when
	// there is nothing to watch.
	idle() context.Context
	close()
}

// syslogConn writes octet-counted messages over TCP or TLS. A goroutine
// reads the connection: a syslog receiver sends nothing, so when the read
// ends the receiver has closed its side (a graceful stop sends FIN or TLS
// close_notify and reads on until the client closes). The next write then
// reconnects instead of writing into a connection that is going away.
type syslogConn struct {
	addr         string
	tls          *tls.Config // nil: plain TCP
	dialTimeout  time.Duration
	writeTimeout time.Duration

	base    context.Context // parent of wait: the drain's soft context
	conn    net.Conn
	wait    context.Context // ends when the receiver closes its side
	endWait context.CancelFunc
	peerEnd atomic.Bool
	readEnd chan struct{}
	stop    func() bool // stops the AfterFunc that unblocks writes on cancel
	dials   *atomic.Uint64
}

func newSyslogConn(base context.Context, u *url.URL, cfg *tls.Config, c *config, dials *atomic.Uint64) *syslogConn {
	s := &syslogConn{base: base, addr: u.Host, dialTimeout: c.dialTimeout, writeTimeout: c.writeTimeout, dials: dials}
	if u.Scheme == schemeSyslogTLS {
		s.tls = clientTLS(cfg, u.Hostname())
	}
	return s
}

// clientTLS copies cfg (nil: defaults) and sets the server name.
func clientTLS(cfg *tls.Config, host string) *tls.Config {
	if cfg == nil {
		cfg = &tls.Config{MinVersion: tls.VersionTLS12}
	} else {
		cfg = cfg.Clone()
	}
	if cfg.ServerName == "" {
		cfg.ServerName = host
	}
	return cfg
}

func (s *syslogConn) connected() bool { return s.conn != nil }

func (s *syslogConn) idle() context.Context {
	if s.conn == nil {
		return nil
	}
	return s.wait
}

func (s *syslogConn) dial(ctx context.Context) error {
	s.dials.Add(1)
	d := &net.Dialer{Timeout: s.dialTimeout, KeepAlive: 30 * time.Second}
	var conn net.Conn
	var err error
	if s.tls != nil {
		conn, err = (&tls.Dialer{NetDialer: d, Config: s.tls}).DialContext(ctx, "tcp", s.addr)
	} else {
		conn, err = d.DialContext(ctx, "tcp", s.addr)
	}
	if err != nil {
		return err
	}
	s.conn = conn
	s.peerEnd.Store(false)
	s.readEnd = make(chan struct{})
	s.wait, s.endWait = context.WithCancel(s.base)
	// Cancelling ctx (Close) unblocks a write in progress.
	s.stop = context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Now()) })
	go s.watch(conn, s.readEnd, s.endWait)
	return nil
}

func (s *syslogConn) watch(conn net.Conn, done chan struct{}, endWait context.CancelFunc) {
	defer close(done)
	var b [512]byte
	for {
		if _, err := conn.Read(b[:]); err != nil {
			s.peerEnd.Store(true)
			endWait()
			return
		}
	}
}

func (s *syslogConn) write(ctx context.Context, b []byte) error {
	if s.conn != nil && s.peerEnd.Load() {
		s.close()
	}
	if s.conn == nil {
		if err := s.dial(ctx); err != nil {
			return err
		}
	}
	_ = s.conn.SetWriteDeadline(time.Now().Add(s.writeTimeout))
	if _, err := s.conn.Write(b); err != nil {
		s.close()
		return err
	}
	return nil
}

func (s *syslogConn) close() {
	if s.conn == nil {
		return
	}
	s.stop()
	_ = s.conn.Close()
	<-s.readEnd
	s.endWait()
	s.conn = nil
}

// httpsPoster posts batches of newline-terminated messages.
type httpsPoster struct {
	url    string
	name   string
	client *http.Client
	dials  *atomic.Uint64
	open   bool
}

func newHTTPSPoster(u *url.URL, name string, cfg *tls.Config, c *config, dials *atomic.Uint64) *httpsPoster {
	tr := &http.Transport{
		TLSClientConfig:     clientTLS(cfg, u.Hostname()),
		TLSHandshakeTimeout: c.dialTimeout,
		MaxIdleConnsPerHost: 1,
		IdleConnTimeout:     90 * time.Second,
		ForceAttemptHTTP2:   true,
	}
	d := &net.Dialer{Timeout: c.dialTimeout, KeepAlive: 30 * time.Second}
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		dials.Add(1)
		return d.DialContext(ctx, network, addr)
	}
	return &httpsPoster{url: u.String(), name: name, client: &http.Client{Transport: tr, Timeout: c.writeTimeout}, dials: dials}
}

func (h *httpsPoster) connected() bool { return h.open }

func (h *httpsPoster) idle() context.Context { return nil }

func (h *httpsPoster) write(ctx context.Context, b []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.url, bytes.NewReader(b))
	if err != nil {
		return fmt.Errorf("drain: %s: %w", h.name, errors.Unwrap(err))
	}
	req.Header.Set("Content-Type", "text/plain")
	resp, err := h.client.Do(req)
	if err != nil {
		h.open = false
		return err // net/http leaves the password out of its errors
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	h.open = true
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("drain: %s answered %s", h.name, resp.Status)
	}
	return nil
}

func (h *httpsPoster) close() {
	h.open = false
	h.client.CloseIdleConnections()
}
