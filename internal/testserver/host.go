package testserver

import (
	"context"
	"fmt"
	"net"
	"sync"
	"time"

	"google.golang.org/grpc"
)

// Host serves one grpc.Server at a time on a fixed loopback address. Crash
// and Restart replace the grpc.Server; register fills each new one.
type Host struct {
	opts      []grpc.ServerOption
	register  func(*grpc.Server)
	errClosed error

	mu      sync.Mutex
	addr    string
	gs      *grpc.Server
	lis     *listener
	closed  bool
	serving sync.WaitGroup
}

// Start serves on addr ("127.0.0.1:0" picks a free port) with a grpc.Server
// made from opts (plus grpc.WaitForHandlers, so that stopping it waits for
// the handlers) and filled by register. errClosed is what Restart returns
// after Close or Shutdown.
func Start(addr string, errClosed error, opts []grpc.ServerOption, register func(*grpc.Server)) (*Host, error) {
	h := &Host{opts: append(append([]grpc.ServerOption(nil), opts...), grpc.WaitForHandlers(true)),
		register: register, errClosed: errClosed, addr: addr}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	h.serve(l)
	return h, nil
}

// serve starts a fresh grpc.Server on l; h.mu must not be held.
func (h *Host) serve(l net.Listener) {
	gs := grpc.NewServer(h.opts...)
	h.register(gs)
	tl := &listener{Listener: l}
	h.mu.Lock()
	h.addr, h.gs, h.lis = l.Addr().String(), gs, tl
	h.mu.Unlock()
	h.serving.Go(func() { _ = gs.Serve(tl) })
}

// Addr returns the address served (the same after Restart).
func (h *Host) Addr() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.addr
}

// Crash stops serving at once, as a crashed process would: the listener and
// every connection close, and running calls end (their contexts are
// cancelled; Crash waits until the handlers have returned).
func (h *Host) Crash() {
	h.mu.Lock()
	gs := h.gs
	h.gs = nil
	h.mu.Unlock()
	if gs != nil {
		gs.Stop()
	}
	h.serving.Wait()
}

// Restart serves again on the same address after Crash, retrying for up to
// five seconds while the old socket lingers. It does nothing while serving.
func (h *Host) Restart() error {
	h.mu.Lock()
	closed, up, addr := h.closed, h.gs != nil, h.addr
	h.mu.Unlock()
	if closed {
		return h.errClosed
	}
	if up {
		return nil
	}
	var err error
	for deadline := time.Now().Add(5 * time.Second); ; {
		var l net.Listener
		if l, err = net.Listen("tcp", addr); err == nil {
			h.serve(l)
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("testserver: restart on %s: %w", addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// ResetConnections closes every accepted TCP connection with a reset, as a
// network fault would; the server goes on serving.
func (h *Host) ResetConnections() {
	h.mu.Lock()
	l := h.lis
	h.mu.Unlock()
	if l != nil {
		l.resetAll()
	}
}

// Shutdown stops accepting and waits for running calls to end
// (grpc.Server.GracefulStop); when ctx ends first it stops at once and
// returns ctx's error. Safe to call twice.
func (h *Host) Shutdown(ctx context.Context) error {
	h.mu.Lock()
	h.closed = true
	gs := h.gs
	h.gs = nil
	h.mu.Unlock()
	if gs == nil {
		h.serving.Wait()
		return nil
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		gs.GracefulStop()
	}()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = ctx.Err()
		gs.Stop()
		<-done
	}
	h.serving.Wait()
	return err
}

// Close crashes the server for good. Safe to call twice.
func (h *Host) Close() error {
	h.mu.Lock()
	h.closed = true
	h.mu.Unlock()
	h.Crash()
	return nil
}

// listener remembers the connections it accepted, so that they can be
// reset.
type listener struct {
	net.Listener
	mu    sync.Mutex
	conns []net.Conn
}

func (l *listener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.mu.Lock()
		l.conns = append(l.conns, c)
		l.mu.Unlock()
	}
	return c, err
}

func (l *listener) resetAll() {
	l.mu.Lock()
	conns := l.conns
	l.conns = nil
	l.mu.Unlock()
	for _, c := range conns {
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetLinger(0) // close with RST
		}
		_ = c.Close()
	}
}
