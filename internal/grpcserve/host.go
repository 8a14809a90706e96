package grpcserve

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"

	"google.golang.org/grpc"
)

// Host owns a component's own grpc.Server and listeners. The zero value is
// not usable; make one with New.
type Host struct {
	name      string
	errClosed error
	logger    *slog.Logger
	options   func() []grpc.ServerOption
	register  func(grpc.ServiceRegistrar)
	wrap      func(net.Listener) net.Listener // nil: none

	mu      sync.Mutex
	closed  bool
	gs      *grpc.Server
	lis     []net.Listener
	serving sync.WaitGroup // Start's Serve goroutines
}

// New returns a Host for the component name (used in log lines and
// errors). errClosed is what Serve and Start return once Close was called;
// options and register make and fill the grpc.Server on first use.
func New(name string, errClosed error, logger *slog.Logger, options func() []grpc.ServerOption, register func(grpc.ServiceRegistrar)) *Host {
	return &Host{name: name, errClosed: errClosed, logger: logger, options: options, register: register}
}

// WrapListeners makes Serve wrap every listener with f (a connection
// limit, say). Call it before Serve or Start.
func (h *Host) WrapListeners(f func(net.Listener) net.Listener) { h.wrap = f }

// Serve serves on lis until the grpc.Server stops, then returns errClosed.
// It may be called for several listeners.
func (h *Host) Serve(lis net.Listener) error {
	if h.wrap != nil {
		lis = h.wrap(lis)
	}
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		lis.Close()
		return h.errClosed
	}
	if h.gs == nil {
		h.gs = grpc.NewServer(h.options()...)
		h.register(h.gs)
	}
	gs := h.gs
	h.lis = append(h.lis, lis)
	h.mu.Unlock()
	h.logger.Info(h.name+": serving", "addr", lis.Addr().String())
	err := gs.Serve(lis)
	if err == nil || errors.Is(err, grpc.ErrServerStopped) || h.Closed() {
		return h.errClosed
	}
	return err
}

// Start listens on the TCP address addr (":0" picks a free port), serves in
// the background and returns the bound address.
func (h *Host) Start(addr string) (net.Addr, error) {
	if h.Closed() {
		return nil, h.errClosed
	}
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("%s: listen: %w", h.name, err)
	}
	h.serving.Add(1)
	go func() {
		defer h.serving.Done()
		if err := h.Serve(lis); err != nil && !errors.Is(err, h.errClosed) {
			h.logger.Error(h.name+": serve ended", "addr", lis.Addr().String(), "err", err)
		}
	}()
	return lis.Addr(), nil
}

// Addr returns the address of the first listener served, or nil.
func (h *Host) Addr() net.Addr {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.lis) == 0 {
		return nil
	}
	return h.lis[0].Addr()
}

// Closed reports whether Close was called.
func (h *Host) Closed() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.closed
}

// Close makes later Serve and Start calls return errClosed and returns the
// grpc.Server to stop (gracefully or not: the component decides), or nil if
// none was made. Safe to call twice.
func (h *Host) Close() *grpc.Server {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	return h.gs
}

// Wait waits until the Serve goroutines of Start have returned (after the
// grpc.Server stopped).
func (h *Host) Wait() { h.serving.Wait() }
