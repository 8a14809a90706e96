package ingress

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// ErrInvalidConfig wraps every error NewServer and NewClient return for an
// argument or option they cannot use: errors.Is(err, ErrInvalidConfig).
var ErrInvalidConfig = errors.New("ingress: invalid configuration")

// ServerOption configures a Server. Options given a zero value keep the
// default; a negative size or duration makes the constructor fail with
// ErrInvalidConfig. A nil option is skipped.
type ServerOption interface {
	applyServer(*serverConfig)
}

// ClientOption configures a Client, with the same rules as ServerOption.
type ClientOption interface {
	applyClient(*clientConfig)
}

// Option configures a Server or a Client alike (WithTLS, WithLogger,
// WithKeepalive).
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
	// DefaultDrain is how long a Server's Shutdown waits for open streams
	// to end before it ends them (WithDrain).
	DefaultDrain = 2 * time.Second
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
	reflection  bool // WithReflection
	drain       time.Duration
	maxConns    int           // WithMaxConnections; 0: no limit
	shed        bool          // WithShedWhenFull
	wait        time.Duration // WithWaitWhenFull; 0: off
}

func defaultServerConfig() serverConfig {
	return serverConfig{
		logger:      slog.New(slog.DiscardHandler),
		maxMsg:      DefaultMaxMessageSize,
		kaTime:      DefaultKeepalive,
		kaTimeout:   DefaultKeepalive,
		kaMinPing:   DefaultMinPingInterval,
		kaWithoutRP: true,
		drain:       DefaultDrain,
		maxConns:    DefaultMaxConnections,
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
	kaTimeout    time.Duration
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
		kaTimeout:    DefaultKeepalive,
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
// is DefaultMaxMessageSize; 0 keeps it.
func WithMaxMessageSize(n int) ServerOption {
	return serverOptionFunc(func(c *serverConfig) { setInt(&c.maxMsg, n) })
}

// WithKeepalive sets keepalive for a Server or a Client alike: a
// connection silent for interval is pinged, and closed when the ping is not
// answered within timeout. Zero values keep the defaults (DefaultKeepalive
// for both); negative ones make the constructor fail with ErrInvalidConfig.
// A Client's interval must stay at or above the server's minimum ping
// interval (WithMinPingInterval), or grpc disconnects the client; grpc-go
// raises a Client's interval below 10 s to 10 s.
func WithKeepalive(interval, timeout time.Duration) Option {
	return bothOption{
		server: func(c *serverConfig) { setDuration(&c.kaTime, interval); setDuration(&c.kaTimeout, timeout) },
		client: func(c *clientConfig) { setDuration(&c.kaTime, interval); setDuration(&c.kaTimeout, timeout) },
	}
}

// WithMinPingInterval sets the shortest interval between client pings the
// Server tolerates (keepalive enforcement, default DefaultMinPingInterval);
// clients that ping more often are disconnected by grpc with
// "too_many_pings". Zero keeps the default.
func WithMinPingInterval(d time.Duration) ServerOption {
	return serverOptionFunc(func(c *serverConfig) { setDuration(&c.kaMinPing, d) })
}

// WithDrain sets how long Shutdown lets open streams end by themselves
// (default DefaultDrain) before it ends them. Zero keeps the default.
func WithDrain(d time.Duration) ServerOption {
	return serverOptionFunc(func(c *serverConfig) { setDuration(&c.drain, d) })
}

// setDuration stores d unless it is zero (keep the default); a negative d
// is stored and refused by validation.
func setDuration(dst *time.Duration, d time.Duration) {
	if d != 0 {
		*dst = d
	}
}

// setInt stores n unless it is zero (keep the default); a negative n is
// stored and refused by validation.
func setInt(dst *int, n int) {
	if n != 0 {
		*dst = n
	}
}

// WithBatch sets how many envelopes a Client puts in one batch at most and
// how long an envelope may wait for its batch to fill. Zero values keep the
// defaults (DefaultBatchSize, DefaultBatchInterval).
func WithBatch(size int, interval time.Duration) ClientOption {
	return clientOptionFunc(func(c *clientConfig) {
		setInt(&c.batchSize, size)
		setDuration(&c.interval, interval)
	})
}

// WithBufferSize sets the size, in envelopes, of the diode between Emit and
// the sending goroutine (default DefaultBufferSize). When emitters outrun
// the connection, the oldest unsent envelopes are dropped and counted as
// "overflow". Zero keeps the default.
func WithBufferSize(n int) ClientOption {
	return clientOptionFunc(func(c *clientConfig) { setInt(&c.bufferSize, n) })
}

// WithBackoff sets the exponential backoff (with jitter) between
// attempts to open a stream to the server: from base up to max. Zero values
// keep the defaults (100 ms, 10 s).
func WithBackoff(base, max time.Duration) ClientOption {
	return clientOptionFunc(func(c *clientConfig) {
		setDuration(&c.backoffBase, base)
		setDuration(&c.backoffMax, max)
	})
}

// WithConfirmEvery sets after how many batches a Client closes its
// BatchSender stream and opens another (default DefaultConfirmEvery; it
// also does so at the first batch after 10 s on one stream). The
// server's answer to a closed stream confirms every batch on it, so this
// bounds what can be unconfirmed when a connection breaks (see Accounting
// in the package doc). Zero keeps the default.
func WithConfirmEvery(batches int) ClientOption {
	return clientOptionFunc(func(c *clientConfig) { setInt(&c.confirmEvery, batches) })
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
		setDuration(&c.sendTimeout, timeout)
	})
}

func (c *serverConfig) validate() error {
	switch {
	case c.maxMsg < 1:
		return fmt.Errorf("%w: maximum message size %d", ErrInvalidConfig, c.maxMsg)
	case c.kaTime <= 0 || c.kaTimeout <= 0 || c.kaMinPing <= 0:
		return fmt.Errorf("%w: keepalive interval %v, timeout %v, minimum ping interval %v must be positive",
			ErrInvalidConfig, c.kaTime, c.kaTimeout, c.kaMinPing)
	}
	return nil
}

func (c *clientConfig) validate() error {
	switch {
	case c.batchSize < 1 || c.interval <= 0:
		return fmt.Errorf("%w: batch size %d, interval %v", ErrInvalidConfig, c.batchSize, c.interval)
	case c.bufferSize < 1:
		return fmt.Errorf("%w: buffer size %d", ErrInvalidConfig, c.bufferSize)
	case c.backoffBase <= 0 || c.backoffMax < c.backoffBase:
		return fmt.Errorf("%w: backoff base %v, max %v", ErrInvalidConfig, c.backoffBase, c.backoffMax)
	case c.kaTime <= 0 || c.kaTimeout <= 0:
		return fmt.Errorf("%w: keepalive interval %v, timeout %v must be positive", ErrInvalidConfig, c.kaTime, c.kaTimeout)
	case c.confirmEvery < 1:
		return fmt.Errorf("%w: confirm every %d batches", ErrInvalidConfig, c.confirmEvery)
	case c.sendTimeout <= 0:
		return fmt.Errorf("%w: send timeout %v", ErrInvalidConfig, c.sendTimeout)
	}
	return nil
}
