package ingress

import (
	"crypto/tls"
	"log/slog"
	"time"
)

// ServerOption configures a Server.
type ServerOption interface {
	applyServer(*serverConfig)
}

// ClientOption configures a Client.
type ClientOption interface {
	applyClient(*clientConfig)
}

// Option configures a Server or a Client alike (WithTLS, WithLogger).
type Option interface {
	ServerOption
	ClientOption
}

// Defaults, Loggregator's (see "Buffer semantics" in docs/architecture.md).
const (
	// DefaultMaxMessageSize is the largest message a Server accepts: 10 MiB.
	DefaultMaxMessageSize = 10 << 20
	// DefaultKeepalive is how long a connection may stay silent before the
	// Server (or Client) pings it; a peer that does not answer within as
	// long again is closed.
	DefaultKeepalive = 15 * time.Second
	// DefaultMinPingInterval is the shortest interval between client pings
	// a Server tolerates (keepalive enforcement). It is below
	// DefaultKeepalive so that senders may probe a dead server "within
	// seconds"; clients that ping more often are disconnected by grpc.
	DefaultMinPingInterval = 5 * time.Second
	// DefaultBatchSize and DefaultBatchInterval are the Client's batching.
	DefaultBatchSize     = 100
	DefaultBatchInterval = 100 * time.Millisecond
	// DefaultBufferSize is the Client's diode size in envelopes.
	DefaultBufferSize = 10000
	// DefaultConfirmEvery is how many batches a Client writes on one
	// BatchSender stream before it closes the stream to have them confirmed.
	DefaultConfirmEvery = 100
)

type serverConfig struct {
	tls         *tls.Config
	logger      *slog.Logger
	maxMsg      int
	kaTime      time.Duration
	kaTimeout   time.Duration
	kaMinPing   time.Duration
	kaWithoutRP bool
}

func defaultServerConfig() serverConfig {
	return serverConfig{
		logger:      slog.New(slog.DiscardHandler),
		maxMsg:      DefaultMaxMessageSize,
		kaTime:      DefaultKeepalive,
		kaTimeout:   DefaultKeepalive,
		kaMinPing:   DefaultMinPingInterval,
		kaWithoutRP: true,
	}
}

type clientConfig struct {
	tls          *tls.Config
	logger       *slog.Logger
	batchSize    int
	interval     time.Duration
	bufferSize   int
	backoffBase  time.Duration
	backoffMax   time.Duration
	kaTime       time.Duration
	acknowledged bool
	confirmEvery int
	sendTimeout  time.Duration
}

func defaultClientConfig() clientConfig {
	return clientConfig{
		logger:       slog.New(slog.DiscardHandler),
		batchSize:    DefaultBatchSize,
		interval:     DefaultBatchInterval,
		bufferSize:   DefaultBufferSize,
		backoffBase:  100 * time.Millisecond,
		backoffMax:   10 * time.Second,
		kaTime:       DefaultKeepalive,
		confirmEvery: DefaultConfirmEvery,
		sendTimeout:  10 * time.Second,
	}
}

type bothOption struct {
	server func(*serverConfig)
	client func(*clientConfig)
}

func (o bothOption) applyServer(c *serverConfig) { o.server(c) }
func (o bothOption) applyClient(c *clientConfig) { o.client(c) }

type serverOptionFunc func(*serverConfig)

func (f serverOptionFunc) applyServer(c *serverConfig) { f(c) }

type clientOptionFunc func(*clientConfig)

func (f clientOptionFunc) applyClient(c *clientConfig) { f(c) }

// WithTLS makes a Server serve TLS with cfg (set cfg.ClientAuth to
// tls.RequireAndVerifyClientCert for mutual TLS: a client without a valid
// certificate then cannot connect), or a Client dial with it. Without it
// both speak plaintext, which is meant for loopback demos. A nil cfg means
// plaintext.
func WithTLS(cfg *tls.Config) Option {
	return bothOption{
		server: func(c *serverConfig) { c.tls = cfg },
		client: func(c *clientConfig) { c.tls = cfg },
	}
}

// WithLogger sets the logger for connection-level events (refused input,
// reconnects). The default discards; nil keeps the default.
func WithLogger(l *slog.Logger) Option {
	set := func(dst **slog.Logger) {
		if l != nil {
			*dst = l
		}
	}
	return bothOption{
		server: func(c *serverConfig) { set(&c.logger) },
		client: func(c *clientConfig) { set(&c.logger) },
	}
}

// WithMaxMessageSize sets the largest message (a batch, or one envelope on
// Sender) the Server accepts, in bytes; larger ones are refused with
// codes.ResourceExhausted and counted as rejected "too_large". The default
// is DefaultMaxMessageSize; n <= 0 keeps it.
func WithMaxMessageSize(n int) ServerOption {
	return serverOptionFunc(func(c *serverConfig) {
		if n > 0 {
			c.maxMsg = n
		}
	})
}

// WithKeepalive sets the Server's keepalive: it pings a connection silent
// for interval and closes it when the ping is not answered within timeout;
// and it disconnects clients that ping more often than minPing. Zero values
// keep the defaults (DefaultKeepalive, DefaultKeepalive,
// DefaultMinPingInterval).
func WithKeepalive(interval, timeout, minPing time.Duration) ServerOption {
	return serverOptionFunc(func(c *serverConfig) {
		if interval > 0 {
			c.kaTime = interval
		}
		if timeout > 0 {
			c.kaTimeout = timeout
		}
		if minPing > 0 {
			c.kaMinPing = minPing
		}
	})
}

// WithBatch sets how many envelopes a Client puts in one batch at most and
// how long an envelope may wait for its batch to fill. Zero values keep the
// defaults (DefaultBatchSize, DefaultBatchInterval).
func WithBatch(size int, interval time.Duration) ClientOption {
	return clientOptionFunc(func(c *clientConfig) {
		if size > 0 {
			c.batchSize = size
		}
		if interval > 0 {
			c.interval = interval
		}
	})
}

// WithBufferSize sets the size, in envelopes, of the diode between Emit and
// the sending goroutine (default DefaultBufferSize). When emitters outrun
// the connection, the oldest unsent envelopes are dropped and counted as
// "overflow".
func WithBufferSize(n int) ClientOption {
	return clientOptionFunc(func(c *clientConfig) {
		if n > 0 {
			c.bufferSize = n
		}
	})
}

// WithReconnectBackoff sets the exponential backoff (with jitter) between
// attempts to open a stream to the server: from base up to max. Zero values
// keep the defaults (100 ms, 10 s).
func WithReconnectBackoff(base, max time.Duration) ClientOption {
	return clientOptionFunc(func(c *clientConfig) {
		if base > 0 {
			c.backoffBase = base
		}
		if max > 0 {
			c.backoffMax = max
		}
	})
}

// WithClientKeepalive sets how often a Client pings an idle connection
// (default DefaultKeepalive). Keep it at or above the server's minimum ping
// interval, or grpc disconnects the client.
func WithClientKeepalive(interval time.Duration) ClientOption {
	return clientOptionFunc(func(c *clientConfig) {
		if interval > 0 {
			c.kaTime = interval
		}
	})
}

// WithConfirmEvery sets after how many batches a Client closes its
// BatchSender stream and opens another (default DefaultConfirmEvery; it
// also does so at the first batch after 10 s on one stream). The
// server's answer to a closed stream confirms every batch on it, so this
// bounds what can be unconfirmed when a connection breaks (see Accounting
// in the package doc).
func WithConfirmEvery(batches int) ClientOption {
	return clientOptionFunc(func(c *clientConfig) {
		if batches > 0 {
			c.confirmEvery = batches
		}
	})
}

// WithAcknowledged makes a Client send each batch with the unary Send call
// instead of a BatchSender stream: a batch counts as sent only when the
// server has it, a batch whose call fails is retried once and then counted
// dropped, and nothing is ever unconfirmed. It costs one round trip per
// batch (one batch in flight at a time). timeout bounds each call (zero
// means 10 s).
func WithAcknowledged(timeout time.Duration) ClientOption {
	return clientOptionFunc(func(c *clientConfig) {
		c.acknowledged = true
		if timeout > 0 {
			c.sendTimeout = timeout
		}
	})
}
