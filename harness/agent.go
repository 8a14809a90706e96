package harness

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/sluicelog/sluice/discovery"
	"github.com/sluicelog/sluice/egress/forward"
	"github.com/sluicelog/sluice/ingress"
	"github.com/sluicelog/sluice/limit"
)

// AgentConfig describes an agent: an Ingress server for local emitters, a
// diode, and a Forwarder batching into a Pool of streams to routers.
type AgentConfig struct {
	// Zone is the agent's availability zone; the pool prefers its routers.
	Zone string
	// Addr is the Ingress listen address (default "127.0.0.1:0").
	Addr string
	// ServerTLS secures the agent's Ingress server (nil: plaintext, which
	// suits emitters on the same host).
	ServerTLS *tls.Config
	// RouterTLS is the client TLS config towards routers.
	RouterTLS *tls.Config
	// Acknowledged selects the pool's acknowledged mode (unary Send, no
	// uncounted loss when a connection breaks) instead of streaming.
	Acknowledged bool
	// Streams is the number of streams to routers (default 5).
	Streams int
	// BufferSize is the ingress diode's size (default 10,000).
	BufferSize int
	// Policy is the ingress buffer's policy (default limit.PolicyRing).
	Policy limit.Policy
	// Limits, when set, puts a per-source Limiter in front of the ingress
	// buffer.
	Limits *limit.Config
	// Summarize keeps a heavy-hitter summary with the ring too.
	Summarize bool
	// Recycle overrides the pool's stream recycling interval.
	Recycle time.Duration
	// Logger receives the components' logs (default: discard).
	Logger *slog.Logger
}

// Agent is a running agent.
type Agent struct {
	Zone string
	// Buffer is the ingress buffer: the policy's buffer with its limiter
	// and summary.
	Buffer    *limit.Buffer
	Ingress   *ingress.Server
	Forwarder *forward.Forwarder
	Pool      *forward.Pool

	addr   string
	cancel context.CancelFunc
	done   chan struct{}
	once   sync.Once
}

// StartAgent starts an agent that finds its routers in src.
func StartAgent(src discovery.Source, cfg AgentConfig) (*Agent, error) {
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:0"
	}
	logger := orDiscard(cfg.Logger)
	buf, err := limit.NewBuffer(limit.BufferConfig{Policy: cfg.Policy, Size: orDefault(cfg.BufferSize, 10000), Limits: cfg.Limits, Summarize: cfg.Summarize}, limit.WithLogger(logger))
	if err != nil {
		return nil, err
	}
	poolOpts := []forward.PoolOption{forward.WithZone(cfg.Zone), forward.WithLogger(logger), forward.WithStreams(orDefault(cfg.Streams, 5))}
	if cfg.RouterTLS != nil {
		poolOpts = append(poolOpts, forward.WithTLS(cfg.RouterTLS))
	}
	if cfg.Acknowledged {
		poolOpts = append(poolOpts, forward.WithMode(forward.Acknowledged))
	}
	if cfg.Recycle > 0 {
		poolOpts = append(poolOpts, forward.WithRecycle(cfg.Recycle))
	}
	pool, err := forward.NewPool(src, poolOpts...)
	if err != nil {
		buf.Close()
		return nil, err
	}
	fail := func(err error) (*Agent, error) {
		pool.Close()
		buf.Close()
		return nil, err
	}
	fwd, err := forward.NewForwarder(buf, pool, forward.WithLogger(logger))
	if err != nil {
		return fail(err)
	}
	inOpts := []ingress.ServerOption{ingress.WithLogger(logger)}
	if cfg.ServerTLS != nil {
		inOpts = append(inOpts, ingress.WithTLS(cfg.ServerTLS))
	}
	in, err := ingress.NewServer(buf, inOpts...)
	if err != nil {
		return fail(err)
	}
	lis, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fail(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	a := &Agent{Zone: cfg.Zone, Buffer: buf, Ingress: in, Forwarder: fwd, Pool: pool, addr: lis.Addr().String(), cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(a.done)
		_ = fwd.Run(ctx)
	}()
	go func() { _ = in.Serve(lis) }()
	return a, nil
}

// Addr is the agent's Ingress address, where emitters send.
func (a *Agent) Addr() string { return a.addr }

// Shutdown stops taking envelopes, forwards everything the agent holds, and
// stops. What cannot be forwarded before ctx ends is counted dropped.
func (a *Agent) Shutdown(ctx context.Context) error {
	var err error
	a.once.Do(func() {
		err = a.Ingress.Shutdown(ctx)
		// The forwarder drains its buffer when its context ends.
		a.cancel()
		select {
		case <-a.done:
		case <-ctx.Done():
			err = errors.Join(err, ctx.Err())
			<-a.done
		}
		err = errors.Join(err, a.Pool.Shutdown(ctx), a.Buffer.Close())
	})
	return err
}

// Close stops the agent at once, counting what it discards.
func (a *Agent) Close() error {
	a.once.Do(func() {
		a.Ingress.Close()
		a.cancel()
		a.Pool.Close()
		<-a.done
		a.Buffer.Close()
	})
	return nil
}
