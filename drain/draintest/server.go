package draintest

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
)

// MaxMessage is the largest frame the Server accepts; a longer one ends
// the connection and counts as malformed.
const MaxMessage = 1 << 20

// Server is a syslog receiver over TCP, or TLS when made with a tls.Config:
// RFC 6587 octet-counted frames of RFC 5424 messages, each parsed and kept.
// It can be stopped and started again on the same address. Safe for
// concurrent use.
type Server struct {
	tls *tls.Config

	store
	conns    map[net.Conn]struct{}
	accepted int
	lis      net.Listener
	addr     string
	wg       sync.WaitGroup
}

// NewServer returns a stopped Server; cfg nil means plain TCP.
func NewServer(cfg *tls.Config) *Server {
	return &Server{tls: cfg, store: newStore(), conns: make(map[net.Conn]struct{})}
}

// Start listens on addr ("127.0.0.1:0" picks a port; after a Stop, ""
// listens on the previous address again) and serves in the background.
func (s *Server) Start(addr string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.lis != nil {
		return errors.New("draintest: already started")
	}
	if addr == "" {
		addr = s.addr
	}
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	if s.tls != nil {
		lis = tls.NewListener(lis, s.tls)
	}
	s.lis, s.addr = lis, lis.Addr().String()
	s.wg.Add(1)
	go s.accept(lis)
	return nil
}

// Addr is the address the Server listens (or last listened) on.
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// URL is the drain URL for this Server: syslog:// or syslog-tls://.
func (s *Server) URL() string {
	if s.tls != nil {
		return "syslog-tls://" + s.Addr()
	}
	return "syslog://" + s.Addr()
}

func (s *Server) accept(lis net.Listener) {
	defer s.wg.Done()
	for {
		c, err := lis.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		s.conns[c] = struct{}{}
		s.accepted++
		s.mu.Unlock()
		s.wg.Add(1)
		go s.serve(c)
	}
}

func (s *Server) serve(c net.Conn) {
	defer s.wg.Done()
	defer func() {
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
		_ = c.Close()
	}()
	r := bufio.NewReaderSize(c, 64<<10)
	for {
		frame, err := readFrame(r)
		if err != nil {
			if !errors.Is(err, io.EOF) {
				s.add(nil, true)
			}
			return
		}
		m, err := Parse(frame)
		s.add(&m, err != nil)
	}
}

// readFrame reads "LEN SP MSG". A clean end between frames is io.EOF.
func readFrame(r *bufio.Reader) ([]byte, error) {
	digits, err := r.ReadSlice(' ')
	if err != nil {
		if len(digits) == 0 && (errors.Is(err, io.EOF) || isClosed(err)) {
			return nil, io.EOF
		}
		return nil, fmt.Errorf("draintest: frame length: %w", err)
	}
	n, err := strconv.Atoi(string(digits[:len(digits)-1]))
	if err != nil || n < 1 || n > MaxMessage {
		return nil, fmt.Errorf("draintest: bad frame length %q", digits)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, fmt.Errorf("draintest: short frame: %w", err)
	}
	return b, nil
}

func isClosed(err error) bool {
	return errors.Is(err, net.ErrClosed) || errors.Is(err, io.ErrUnexpectedEOF)
}

func (s *Server) add(m *Message, malformed bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if malformed {
		m = nil
	}
	s.addLocked(m)
}

// Accepted counts connections accepted since NewServer.
func (s *Server) Accepted() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.accepted
}

// Stop stops gracefully: it stops accepting, tells every client it is done
// (a TCP FIN, or a TLS close_notify) and reads what the clients still send
// until they close, so nothing they wrote is lost. When ctx ends first it
// cuts the connections. The Server can Start again afterwards.
func (s *Server) Stop(ctx context.Context) error {
	conns := s.closeListener()
	for _, c := range conns {
		if cw, ok := c.(interface{ CloseWrite() error }); ok {
			_ = cw.CloseWrite()
		}
	}
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		s.Kill()
		<-done
		return ctx.Err()
	}
}

// Kill stops at once: it closes the listener and every connection; what
// clients had in flight is lost.
func (s *Server) Kill() {
	for _, c := range s.closeListener() {
		_ = c.Close()
	}
	s.wg.Wait()
}

func (s *Server) closeListener() []net.Conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.lis != nil {
		_ = s.lis.Close()
		s.lis = nil
	}
	conns := make([]net.Conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	return conns
}

// Close is Kill; it satisfies io.Closer for t.Cleanup.
func (s *Server) Close() error {
	s.Kill()
	return nil
}
