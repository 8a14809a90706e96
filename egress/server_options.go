package egress

import (
	"crypto/tls"
	"log/slog"
	"time"
)

// Server defaults (Loggregator's, see DESIGN.md).
const (
	// DefaultServerMaxStreams is how many streams a Server serves at once.
	DefaultServerMaxStreams = 500
	// DefaultServerBatchSize and DefaultServerBatchInterval bound a batch
	// sent on BatchedReceiver.
	DefaultServerBatchSize     = 100
	DefaultServerBatchInterval = 100 * time.Millisecond
	// DefaultServerKeepalive is how long a connection may stay silent
	// before the Server pings it; a peer that does not answer within as
	// long again is closed.
	DefaultServerKeepalive = 15 * time.Second
	// DefaultServerMinPingInterval is the shortest interval between client
	// pings a Server tolerates.
	DefaultServerMinPingInterval = 5 * time.Second
)

// ServerOption configures a Server.
type ServerOption interface{ apply(*serverConfig) }

type serverOptionFunc func(*serverConfig)

func (f serverOptionFunc) apply(c *serverConfig) { f(c) }

type serverConfig struct {
	tls        *tls.Config
	maxStreams int
	batchSize  int
	interval   time.Duration
	idle       time.Duration
	kaTime     time.Duration
	kaTimeout  time.Duration
	kaMinPing  time.Duration
	logger     *slog.Logger
}

func serverDefaults() serverConfig {
	return serverConfig{
		maxStreams: DefaultServerMaxStreams,
		batchSize:  DefaultServerBatchSize,
		interval:   DefaultServerBatchInterval,
		kaTime:     DefaultServerKeepalive,
		kaTimeout:  DefaultServerKeepalive,
		kaMinPing:  DefaultServerMinPingInterval,
		logger:     slog.New(slog.DiscardHandler),
	}
}

// WithServerTLS serves over TLS with cfg; set cfg.ClientAuth (and
// ClientCAs) for mutual TLS. Without it the Server serves plaintext.
func WithServerTLS(cfg *tls.Config) ServerOption {
	return serverOptionFunc(func(c *serverConfig) { c.tls = cfg })
}

// WithServerMaxStreams sets how many Receiver and BatchedReceiver streams
// the Server serves at once (default DefaultServerMaxStreams); more are
// answered ResourceExhausted and counted as rejected_streams.
func WithServerMaxStreams(n int) ServerOption {
	return serverOptionFunc(func(c *serverConfig) { c.maxStreams = n })
}

// WithServerBatching sets the batches BatchedReceiver sends: at most size
// envelopes, held at most interval, and flushed when the subscription has
// been empty for idle (zero: interval/10), so a trickle is not delayed.
func WithServerBatching(size int, interval, idle time.Duration) ServerOption {
	return serverOptionFunc(func(c *serverConfig) { c.batchSize, c.interval, c.idle = size, interval, idle })
}

// WithServerKeepalive sets how long a connection may stay silent before the
// Server pings it (time), how long it waits for the answer (timeout), and
// the shortest client ping interval it tolerates (minPing).
func WithServerKeepalive(time, timeout, minPing time.Duration) ServerOption {
	return serverOptionFunc(func(c *serverConfig) { c.kaTime, c.kaTimeout, c.kaMinPing = time, timeout, minPing })
}

// WithServerLogger sets the logger (default: discard).
func WithServerLogger(l *slog.Logger) ServerOption {
	return serverOptionFunc(func(c *serverConfig) {
		if l != nil {
			c.logger = l
		}
	})
}
