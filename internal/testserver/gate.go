package testserver

import (
	"context"
	"crypto/tls"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/keepalive"

	"github.com/sluicelog/sluice/internal/wire"
)

// Gate holds the misbehaviour a fake was told to show: a refusal that
// answers calls with an error, and a stall that holds handlers until
// Resume. The zero value lets everything through.
type Gate struct {
	mu      sync.Mutex
	refusal error
	stall   chan struct{} // non-nil while stalled; closed by Resume
}

// Refuse makes Refusal return err (nil: accept again).
func (g *Gate) Refuse(err error) {
	g.mu.Lock()
	g.refusal = err
	g.mu.Unlock()
}

// Refusal returns the error calls are to be answered with, or nil.
func (g *Gate) Refusal() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.refusal
}

// Stall makes Pass block until Resume.
func (g *Gate) Stall() {
	g.mu.Lock()
	if g.stall == nil {
		g.stall = make(chan struct{})
	}
	g.mu.Unlock()
}

// Resume releases everyone blocked in Pass.
func (g *Gate) Resume() {
	g.mu.Lock()
	if g.stall != nil {
		close(g.stall)
		g.stall = nil
	}
	g.mu.Unlock()
}

// Resumed returns nil when not stalled, else a channel that Resume closes.
func (g *Gate) Resumed() <-chan struct{} {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.stall
}

// Pass returns nil at once unless stalled; while stalled it waits for
// Resume, or returns ctx's error when ctx ends first.
func (g *Gate) Pass(ctx context.Context) error {
	ch := g.Resumed()
	if ch == nil {
		return nil
	}
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// ServerOptions are the grpc.Server options of every fake: the wire codec,
// TLS when cfg is not nil, Loggregator's 10 MiB message limit, and a
// keepalive policy that tolerates client pings every second; extra come
// last and win.
func ServerOptions(cfg *tls.Config, extra ...grpc.ServerOption) []grpc.ServerOption {
	opts := []grpc.ServerOption{
		wire.ServerOption(),
		grpc.MaxRecvMsgSize(10 << 20),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: time.Second, PermitWithoutStream: true}),
	}
	if cfg != nil {
		opts = append(opts, grpc.Creds(credentials.NewTLS(cfg)))
	}
	return append(opts, extra...)
}
