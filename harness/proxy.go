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

	"github.com/sluicelog/sluice/discovery"
	"github.com/sluicelog/sluice/egress/serve"
	"github.com/sluicelog/sluice/envelope"
	"github.com/sluicelog/sluice/nozzle"
)

// ProxyConfig describes a proxy (Loggregator's reverse log proxy): an Egress
// server, and optionally the gateway, where every subscriber is served by a
// Firehose over all the routers discovery knows.
type ProxyConfig struct {
	// Addr is the Egress gRPC listen address (default "127.0.0.1:0").
	Addr string
	// GatewayAddr, when set, serves the gateway there too.
	GatewayAddr string
	// ServerTLS secures the proxy's own Egress server and gateway.
	ServerTLS *tls.Config
	// RouterTLS is the client TLS config towards routers.
	RouterTLS *tls.Config
	// BufferSize is each Firehose's channel buffer (default 10,000).
	BufferSize int
	// Logger receives the components' logs (default: discard).
	Logger *slog.Logger
}

// Proxy is a running proxy.
type Proxy struct {
	Egress  *serve.Server
	Gateway *serve.Gateway

	mu        sync.Mutex
	firehoses []ProxySubscription

	addr    string
	gwURL   string
	httpSrv *http.Server
	gs      *grpc.Server
	wg      sync.WaitGroup
	once    sync.Once
}

// StartProxy starts a proxy over the routers of src.
func StartProxy(src discovery.Source, cfg ProxyConfig) (*Proxy, error) {
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:0"
	}
	logger := orDiscard(cfg.Logger)
	opts := []nozzle.FirehoseOption{nozzle.WithLogger(logger), nozzle.WithBufferSize(orDefault(cfg.BufferSize, nozzle.DefaultBufferSize))}
	if cfg.RouterTLS != nil {
		opts = append(opts, nozzle.WithTLS(cfg.RouterTLS))
	}
	p := &Proxy{}
	// The whole proxy is serve.SubscriberFunc(nozzle.FirehoseSubscriber(src,
	// opts...)); the harness also keeps each Firehose for the accounting.
	subscribe := nozzle.FirehoseSubscriber(src, opts...)
	sub := serve.SubscriberFunc(func(ctx context.Context, req *envelope.EgressBatchRequest) (serve.Subscription, error) {
		s, err := subscribe(ctx, req)
		if fh, ok := s.(*nozzle.Firehose); ok && err == nil {
			p.mu.Lock()
			p.firehoses = append(p.firehoses, ProxySubscription{ShardID: req.GetShardId(), Firehose: fh})
			p.mu.Unlock()
		}
		return s, err
	})
	srvOpts := []serve.ServerOption{serve.WithLogger(logger)}
	if cfg.ServerTLS != nil {
		srvOpts = append(srvOpts, serve.WithTLS(cfg.ServerTLS))
	}
	eg, err := serve.NewServer(sub, srvOpts...)
	if err != nil {
		return nil, err
	}
	lis, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, err
	}
	p.Egress = eg
	p.addr = lis.Addr().String()
	p.gs = grpc.NewServer(eg.GRPCServerOptions()...)
	eg.Register(p.gs)
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		_ = p.gs.Serve(lis)
	}()
	if cfg.GatewayAddr != "" {
		gw, err := serve.NewGateway(sub, serve.WithLogger(logger))
		if err != nil {
			p.Close()
			return nil, err
		}
		glis, err := net.Listen("tcp", cfg.GatewayAddr)
		if err != nil {
			p.Close()
			return nil, err
		}
		scheme := "http"
		if cfg.ServerTLS != nil {
			scheme = "https"
			glis = tls.NewListener(glis, cfg.ServerTLS)
		}
		mux := http.NewServeMux()
		mux.Handle(serve.GatewayPath, gw)
		p.Gateway = gw
		p.gwURL = scheme + "://" + glis.Addr().String()
		p.httpSrv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			_ = p.httpSrv.Serve(glis)
		}()
	}
	return p, nil
}

// Addr is the proxy's Egress address.
func (p *Proxy) Addr() string { return p.addr }

// GatewayURL is the proxy gateway's base URL ("" without one).
func (p *Proxy) GatewayURL() string { return p.gwURL }

// ProxySubscription is one downstream subscriber's Firehose.
type ProxySubscription struct {
	ShardID  string
	Firehose *nozzle.Firehose
}

// Firehoses returns the Firehoses started for subscribers so far (open and
// closed), for their stats.
func (p *Proxy) Firehoses() []ProxySubscription {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]ProxySubscription(nil), p.firehoses...)
}

// Shutdown ends the proxy's streams gracefully (subscriptions send what they
// hold) and stops.
func (p *Proxy) Shutdown(ctx context.Context) error {
	var err error
	p.once.Do(func() {
		if p.httpSrv != nil {
			err = errors.Join(p.Gateway.Shutdown(ctx), p.httpSrv.Shutdown(ctx))
		}
		err = errors.Join(err, p.Egress.Shutdown(ctx))
		p.gs.GracefulStop()
		p.wg.Wait()
	})
	return err
}

// Close stops the proxy at once.
func (p *Proxy) Close() error {
	p.once.Do(func() {
		if p.httpSrv != nil {
			p.httpSrv.Close()
			p.Gateway.Close()
		}
		p.Egress.Close()
		p.gs.Stop()
		p.wg.Wait()
	})
	return nil
}
