package metrics

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/sluicelog/sluice/ingress"
	"github.com/sluicelog/sluice/telemetry"
)

// Config says where a program's telemetry goes.
type Config struct {
	// MetricsAddr is the HTTP listen address of /metrics ("" serves none).
	MetricsAddr string
	// AgentAddr is the Ingress address of the agent that envelopes go to
	// ("" emits none); AgentTLS dials it (nil: plaintext).
	AgentAddr string
	AgentTLS  *tls.Config
	// SourceID stamps the envelopes: "doppler" for a router, "metron" for
	// an agent, "reverse_log_proxy" for a proxy (Loggregator's).
	SourceID string
	// Labels go on every series and envelope (job, router_id, zone...).
	Labels map[string]string
	// Interval is the time between emissions (0: telemetry's default).
	Interval time.Duration
	Logger   *slog.Logger
	// Handlers are served beside /metrics at their paths (debug
	// endpoints such as NoisyPath).
	Handlers map[string]http.Handler
}

// Telemetry serves /metrics and emits to an agent until Shutdown or Close.
// A nil *Telemetry (from Start with neither address) does nothing.
type Telemetry struct {
	srv    *http.Server
	url    string
	client *ingress.Client
	cancel context.CancelFunc
	done   chan struct{}
	once   sync.Once
	err    error
}

// Start serves cs at cfg.MetricsAddr/metrics and emits them to
// cfg.AgentAddr. It returns nil when both addresses are empty.
func Start(cfg Config, cs []telemetry.Component) (*Telemetry, error) {
	if cfg.MetricsAddr == "" && cfg.AgentAddr == "" {
		return nil, nil
	}
	t := &Telemetry{}
	if cfg.MetricsAddr != "" {
		c, err := telemetry.NewCollector(cs, telemetry.WithLabels(cfg.Labels), telemetry.WithLogger(cfg.Logger))
		if err != nil {
			return nil, err
		}
		reg := prometheus.NewRegistry()
		reg.MustRegister(c, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
		lis, err := net.Listen("tcp", cfg.MetricsAddr)
		if err != nil {
			return nil, fmt.Errorf("metrics: %w", err)
		}
		mux := http.NewServeMux()
		mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
		for path, h := range cfg.Handlers {
			mux.Handle(path, h)
		}
		t.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		t.url = "http://" + lis.Addr().String() + "/metrics"
		go func() { _ = t.srv.Serve(lis) }()
	}
	if cfg.AgentAddr != "" {
		if err := t.emit(cfg, cs); err != nil {
			if t.srv != nil {
				_ = t.srv.Close()
			}
			return nil, err
		}
	}
	return t, nil
}

func (t *Telemetry) emit(cfg Config, cs []telemetry.Component) error {
	client, err := ingress.NewClient(cfg.AgentAddr, ingress.WithTLS(cfg.AgentTLS), ingress.WithLogger(cfg.Logger))
	if err != nil {
		return fmt.Errorf("agent: %w", err)
	}
	em, err := telemetry.NewEmitter(cfg.SourceID, telemetry.SinkFunc(client.EmitBytes), cs,
		telemetry.WithLabels(cfg.Labels), telemetry.WithInterval(cfg.Interval), telemetry.WithLogger(cfg.Logger))
	if err != nil {
		_ = client.Close()
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.client, t.cancel, t.done = client, cancel, make(chan struct{})
	go func() {
		defer close(t.done)
		_ = em.Run(ctx) // emits once more when ctx ends: the final totals
	}()
	return nil
}

// URL is the /metrics URL ("" when none is served).
func (t *Telemetry) URL() string {
	if t == nil {
		return ""
	}
	return t.url
}

// Shutdown emits the final totals, sends what the client holds to the
// agent, and stops serving /metrics, giving up when ctx ends. Call it after
// the components have stopped, so the totals are final.
func (t *Telemetry) Shutdown(ctx context.Context) error { return t.stop(ctx, false) }

// Close stops at once: what the client has not sent is dropped, open
// /metrics requests are cut. It is safe to call after Shutdown.
func (t *Telemetry) Close() error {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return t.stop(ctx, true)
}

func (t *Telemetry) stop(ctx context.Context, now bool) error {
	if t == nil {
		return nil
	}
	t.once.Do(func() {
		if t.client != nil {
			t.cancel()
			<-t.done
			if now {
				_ = t.client.Close()
			} else {
				t.err = t.client.Shutdown(ctx)
			}
		}
		if t.srv == nil {
			return
		}
		if now {
			t.err = errors.Join(t.err, t.srv.Close())
		} else {
			t.err = errors.Join(t.err, t.srv.Shutdown(ctx))
		}
	})
	return t.err
}
