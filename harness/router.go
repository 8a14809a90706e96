package harness

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"google.golang.org/grpc"

	"github.com/sluicelog/sluice/diode"
	"github.com/sluicelog/sluice/discovery"
	"github.com/sluicelog/sluice/egress/serve"
	"github.com/sluicelog/sluice/ingress"
	"github.com/sluicelog/sluice/limit"
)

// RouterConfig describes a router: Ingress and Egress on one gRPC address,
// an ingress diode between them, and optionally the HTTP/SSE gateway.
type RouterConfig struct {
	// ID and Zone identify the router in discovery.
	ID, Zone string
	// Addr is the gRPC listen address (default "127.0.0.1:0").
	Addr string
	// GatewayAddr, when set, serves serve.Gateway (GET /v2/read) there.
	GatewayAddr string
	// TLS, when set, secures gRPC and the gateway (mutual when it requires
	// client certificates).
	TLS *tls.Config
	// BufferSize is the ingress diode's size (default 10,000).
	BufferSize int
	// Policy is the ingress buffer's policy (default limit.PolicyRing).
	Policy limit.Policy
	// Limits, when set, puts a per-source Limiter in front of the ingress
	// buffer.
	Limits *limit.Config
	// Summarize keeps a heavy-hitter summary with the ring too.
	Summarize bool
	// Gated puts a Gate between the ingress buffer and the router: it
	// routes only what the caller allows (Router.Gate), so that the
	// router's capacity is exactly what a test or study says.
	Gated bool
	// WaitWhenFull is the ingress server's ingress.WithWaitWhenFull (0:
	// off).
	WaitWhenFull time.Duration
	// SubscriptionBuffer is each subscription's diode size (default 1,000).
	SubscriptionBuffer int
	// GatewayHeartbeat overrides the gateway's 15 s heartbeat.
	GatewayHeartbeat time.Duration
	// Logger receives the components' logs (default: discard).
	Logger *slog.Logger
}

// Router is a running router. Its parts are exported so tests and programs
// can read their stats.
type Router struct {
	ID, Zone string
	// Buffer is what the ingress server writes into and the router reads:
	// IngressBuffer, behind Gate when the router is gated.
	Buffer diode.Buffer[[]byte]
	// IngressBuffer is the policy's buffer with its limiter and summary.
	IngressBuffer *limit.Buffer
	// Gate is nil unless RouterConfig.Gated.
	Gate    *Gate[[]byte]
	Ingress *ingress.Server
	Router  *serve.Router
	Egress  *serve.Server
	Gateway *serve.Gateway

	gs      *grpc.Server
	addr    string
	httpSrv *http.Server
	gwURL   string
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	once    sync.Once

	// onStop runs when the router stops (the topology's telemetry emitter).
	onStop []context.CancelFunc
}

// StartRouter starts a router.
func StartRouter(cfg RouterConfig) (*Router, error) {
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:0"
	}
	logger := orDiscard(cfg.Logger)
	ib, err := limit.NewBuffer(limit.BufferConfig{Policy: cfg.Policy, Size: orDefault(cfg.BufferSize, 10000), Limits: cfg.Limits, Summarize: cfg.Summarize}, limit.WithLogger(logger))
	if err != nil {
		return nil, err
	}
	var buf diode.Buffer[[]byte] = ib
	var gate *Gate[[]byte]
	if cfg.Gated {
		gate = NewGate(buf)
		buf = gate
	}
	inOpts := []ingress.ServerOption{ingress.WithLogger(logger), ingress.WithWaitWhenFull(cfg.WaitWhenFull)}
	egOpts := []serve.ServerOption{serve.WithLogger(logger)}
	if cfg.TLS != nil {
		inOpts = append(inOpts, ingress.WithTLS(cfg.TLS))
		egOpts = append(egOpts, serve.WithTLS(cfg.TLS))
	}
	in, err := ingress.NewServer(buf, inOpts...)
	if err != nil {
		ib.Close()
		return nil, err
	}
	rt, err := serve.NewRouter(serve.WithSubscriptionDiode(orDefault(cfg.SubscriptionBuffer, 1000)), serve.WithLogger(logger))
	if err != nil {
		ib.Close()
		return nil, err
	}
	eg, err := serve.NewServer(rt, egOpts...)
	if err != nil {
		ib.Close()
		return nil, err
	}
	lis, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		ib.Close()
		return nil, err
	}
	// One grpc.Server for both services: Ingress's options carry the codec,
	// TLS, message limit and keepalive for both.
	gs := grpc.NewServer(in.GRPCServerOptions()...)
	in.Register(gs)
	eg.Register(gs)
	ctx, cancel := context.WithCancel(context.Background())
	r := &Router{ID: cfg.ID, Zone: cfg.Zone, Buffer: buf, IngressBuffer: ib, Gate: gate, Ingress: in, Router: rt, Egress: eg, gs: gs, addr: lis.Addr().String(), cancel: cancel}
	r.wg.Add(2)
	go func() {
		defer r.wg.Done()
		_ = rt.Run(ctx, buf)
	}()
	go func() {
		defer r.wg.Done()
		_ = gs.Serve(lis)
	}()
	if cfg.GatewayAddr != "" {
		if err := r.startGateway(cfg, logger); err != nil {
			r.Close()
			return nil, err
		}
	}
	return r, nil
}

func (r *Router) startGateway(cfg RouterConfig, logger *slog.Logger) error {
	opts := []serve.GatewayOption{serve.WithLogger(logger)}
	if cfg.GatewayHeartbeat > 0 {
		opts = append(opts, serve.WithHeartbeat(cfg.GatewayHeartbeat))
	}
	gw, err := serve.NewGateway(r.Router, opts...)
	if err != nil {
		return err
	}
	lis, err := net.Listen("tcp", cfg.GatewayAddr)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle(serve.GatewayPath, gw)
	r.Gateway = gw
	r.httpSrv = &http.Server{Handler: mux, TLSConfig: cfg.TLS, ReadHeaderTimeout: 10 * time.Second}
	scheme := "http"
	if cfg.TLS != nil {
		scheme = "https"
		lis = tls.NewListener(lis, cfg.TLS)
	}
	r.gwURL = scheme + "://" + lis.Addr().String()
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		_ = r.httpSrv.Serve(lis)
	}()
	return nil
}

// Addr is the gRPC address (Ingress and Egress).
func (r *Router) Addr() string { return r.addr }

// GatewayURL is the gateway's base URL ("" without a gateway).
func (r *Router) GatewayURL() string { return r.gwURL }

// Endpoint describes the router for discovery.
func (r *Router) Endpoint() discovery.Endpoint {
	return discovery.Endpoint{ID: r.ID, Addr: r.addr, Zone: r.Zone}
}

// Shutdown stops the router gracefully: it stops taking envelopes, routes
// what its ingress diode holds, lets subscriptions send what they hold, and
// stops. When ctx ends first it closes what is left abruptly (and counts it).
func (r *Router) Shutdown(ctx context.Context) error {
	var err error
	r.once.Do(func() {
		err = errors.Join(r.Ingress.Shutdown(ctx))
		if r.Gate != nil {
			r.Gate.Open() // a gated router drains whole
		}
		// The ingress diode holds what was accepted: route it all.
		_ = WaitFor(ctx, func() bool { _, _, pending := diodeState(r.Buffer.Stats()); return pending == 0 })
		r.cancel()
		if r.httpSrv != nil {
			err = errors.Join(err, r.Gateway.Shutdown(ctx), r.httpSrv.Shutdown(ctx))
		}
		err = errors.Join(err, r.Egress.Shutdown(ctx), r.Router.Shutdown(ctx))
		stopped := make(chan struct{})
		go func() {
			r.gs.GracefulStop()
			close(stopped)
		}()
		select {
		case <-stopped:
		case <-ctx.Done():
			r.gs.Stop()
			<-stopped
			err = errors.Join(err, ctx.Err())
		}
		r.wg.Wait()
		r.IngressBuffer.Close()
	})
	return err
}

// Close stops the router at once, as a crash of the process would, except
// that every component counts what it discards.
//
// The Router closes first, while every subscription is still in place: a
// crash takes the whole process at one instant, so no envelope may be
// published after some subscriptions ended and before others did (it would
// reach some shard groups and be counted by none for the rest). What the
// ingress buffer still holds stays there, discarded at stop.
func (r *Router) Close() error {
	r.once.Do(func() {
		for _, f := range r.onStop {
			f()
		}
		r.Router.Close()
		r.cancel()
		r.gs.Stop()
		if r.httpSrv != nil {
			r.httpSrv.Close()
			r.Gateway.Close()
		}
		r.Ingress.Close()
		r.Egress.Close()
		r.Router.Close()
		r.wg.Wait()
		r.IngressBuffer.Close()
	})
	return nil
}

func diodeState(s diode.Stats) (written, done, pending uint64) {
	done = s.Read + s.Dropped
	if s.Written > done {
		pending = s.Written - done
	}
	return s.Written, done, pending
}

func orDefault(v, d int) int {
	if v <= 0 {
		return d
	}
	return v
}

func orDiscard(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.New(slog.DiscardHandler)
	}
	return l
}
