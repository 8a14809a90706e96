package nozzle

import (
	"crypto/tls"
	"log/slog"
	"net/http"
	"time"

	"github.com/sluicelog/sluice/internal/backoff"
	"github.com/sluicelog/sluice/internal/tlswatch"
)

// DefaultBufferSize is the size of the buffer between the streams and the
// consumer, the reverse log proxy's 10,000-envelope channel.
const DefaultBufferSize = 10000

// config is shared by Reader, Firehose and GatewayReader; each reads the
// fields that apply to it.
type config struct {
	tls        *tls.Config
	logger     *slog.Logger
	bufferSize int
	bufBytes   int64 // WithBufferBytes
	backoff    backoff.Policy
	onSlow     func(*SlowConsumerError)
	keepalive  time.Duration
	kaTimeout  time.Duration
	httpClient *http.Client
	tlsWatch   *tlswatch.Watch // handshakes with routers (the gateway); set by buildConfig
}

func defaultConfig() config {
	return config{
		logger:     slog.New(slog.DiscardHandler),
		bufferSize: DefaultBufferSize,
		// Loggregator's client retries every 50 ms without backoff; we start
		// there and back off to 5 s.
		backoff: backoff.Policy{Base: 50 * time.Millisecond, Max: 5 * time.Second, Factor: 2},
		// A stalled router (SIGSTOP, a cut cable) is noticed within 20 s.
		keepalive: DefaultKeepalive,
		kaTimeout: DefaultKeepaliveTimeout,
	}
}

// Keepalive defaults of the gRPC consumers (WithKeepalive).
const (
	// DefaultKeepalive is how long a connection stays silent before the
	// client pings: Loggregator's 15 s.
	DefaultKeepalive = 15 * time.Second
	// DefaultKeepaliveTimeout is how long a ping may go unanswered before
	// the connection is dropped.
	DefaultKeepaliveTimeout = 5 * time.Second
)

// ReaderOption configures a Reader.
type ReaderOption interface{ applyReader(*config) }

// FirehoseOption configures a Firehose.
type FirehoseOption interface{ applyFirehose(*config) }

// GatewayOption configures a GatewayReader.
type GatewayOption interface{ applyGateway(*config) }

// Option configures any of Reader, Firehose and GatewayReader.
type Option struct{ f func(*config) }

func (o Option) applyReader(c *config)   { o.apply(c) }
func (o Option) applyFirehose(c *config) { o.apply(c) }
func (o Option) applyGateway(c *config)  { o.apply(c) }

// apply runs the option; the zero Option does nothing.
func (o Option) apply(c *config) {
	if o.f != nil {
		o.f(c)
	}
}

// GRPCOption configures the gRPC consumers, Reader and Firehose.
type GRPCOption struct{ f func(*config) }

func (o GRPCOption) applyReader(c *config)   { Option(o).apply(c) }
func (o GRPCOption) applyFirehose(c *config) { Option(o).apply(c) }

type gatewayOnly struct{ f func(*config) }

func (o gatewayOnly) applyGateway(c *config) { Option(o).apply(c) }

// buildConfig applies opts over the defaults, skipping nil options, and
// checks the result: a value no option may take is an error wrapping
// ErrInvalidConfig.
func buildConfig[O any](opts []O, apply func(O, *config)) (config, error) {
	cfg := defaultConfig()
	for _, o := range opts {
		if any(o) != nil {
			apply(o, &cfg)
		}
	}
	switch {
	case cfg.bufferSize < 1:
		return cfg, invalid("buffer size %d", cfg.bufferSize)
	case cfg.backoff.Base <= 0 || cfg.backoff.Max < cfg.backoff.Base:
		return cfg, invalid("backoff base %v, max %v", cfg.backoff.Base, cfg.backoff.Max)
	case cfg.keepalive < 0 || cfg.kaTimeout < 0:
		return cfg, invalid("keepalive interval %v, timeout %v", cfg.keepalive, cfg.kaTimeout)
	}
	cfg.tlsWatch = tlswatch.NewClient("nozzle", "router", cfg.logger)
	return cfg, nil
}

// WithTLS makes the consumer connect with TLS using cfg; a cfg with
// Certificates set gives mutual TLS. The default is plaintext. For a
// GatewayReader it sets the TLS configuration of the default HTTP client
// (it is ignored with WithHTTPClient).
func WithTLS(cfg *tls.Config) Option {
	return Option{func(c *config) { c.tls = cfg }}
}

// WithLogger sets the logger for background events (reconnects, malformed
// batches). The default discards everything.
func WithLogger(l *slog.Logger) Option {
	return Option{func(c *config) {
		if l != nil {
			c.logger = l
		}
	}}
}

// WithBufferSize sets how many envelopes the buffer between the streams and
// the consumer holds (default DefaultBufferSize). When it is full, new
// envelopes are dropped and counted. Zero keeps the default; a negative n
// makes the constructor fail with ErrInvalidConfig.
func WithBufferSize(n int) Option {
	return Option{func(c *config) {
		if n != 0 {
			c.bufferSize = n
		}
	}}
}

// WithBackoff sets the reconnect delays: the n-th consecutive retry waits
// between half and all of min(max, base*2^n). The default is 50 ms to 5 s;
// base <= 0 or max < base makes the constructor fail with ErrInvalidConfig.
func WithBackoff(base, max time.Duration) Option {
	return Option{func(c *config) { c.backoff = backoff.Policy{Base: base, Max: max, Factor: 2} }}
}

// WithSlowConsumer sets a callback for the start of every slow-consumer
// episode. It runs on the stream goroutine that found the buffer full, at
// once (even while the consumer is stuck), so it must return quickly; it must
// not call the consumer's Next or TryNext.
func WithSlowConsumer(f func(*SlowConsumerError)) Option {
	return Option{func(c *config) { c.onSlow = f }}
}

// WithKeepalive makes the gRPC connections ping the server after interval
// without activity and drop a connection whose ping is not answered within
// timeout, so a router that vanished or stalled (not closed) is noticed
// within seconds. On by default (DefaultKeepalive, DefaultKeepaliveTimeout),
// and only while a stream is open; WithKeepalive(0, 0) turns it off. The
// server must permit pings that often: sluice's servers allow one every 5 s,
// Loggregator's every 10 s; a stock grpc-go server refuses pings more
// frequent than every 5 minutes unless its enforcement policy allows them
// (grpc-go then doubles the client's interval). grpc-go raises intervals
// below 10 s to 10 s.
func WithKeepalive(interval, timeout time.Duration) GRPCOption {
	return GRPCOption{func(c *config) { c.keepalive, c.kaTimeout = interval, timeout }}
}

// WithHTTPClient sets the HTTP client of a GatewayReader. It must not have a
// Timeout: the stream is long-lived. The default is a client of its own with
// WithTLS's configuration.
func WithHTTPClient(hc *http.Client) GatewayOption {
	return gatewayOnly{func(c *config) { c.httpClient = hc }}
}
