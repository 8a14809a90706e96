package serve

import (
	"crypto/tls"
	"log/slog"
	"time"

	"github.com/sluicelog/sluice/diode"
	"github.com/sluicelog/sluice/egress/authz"
)

// Defaults, Loggregator's where it has one.
const (
	// DefaultSubscriptionBuffer is the size of a subscription's diode, as in
	// Loggregator's router.
	DefaultSubscriptionBuffer = 1000
	// DefaultGroupGrace is how long a shard group outlives its last member
	// (WithGroupGrace): long enough for a nozzle to restart.
	DefaultGroupGrace = 30 * time.Second
	// DefaultMaxStreams is how many streams a Server, or a Gateway, serves
	// at once.
	DefaultMaxStreams = 500
	// DefaultMaxConnections is how many connections a Server holds open
	// at once on the listeners it serves itself.
	DefaultMaxConnections = 1000
	// DefaultBatchSize and DefaultBatchInterval bound a batch sent on
	// BatchedReceiver or in one gateway frame.
	DefaultBatchSize     = 100
	DefaultBatchInterval = 100 * time.Millisecond
	// DefaultKeepalive is how long a connection may stay silent before the
	// Server pings it; a peer that does not answer within as long again is
	// closed.
	DefaultKeepalive = 15 * time.Second
	// DefaultMinPingInterval is the shortest interval between client pings
	// a Server tolerates.
	DefaultMinPingInterval = 5 * time.Second
	// DefaultHeartbeat is how long a gateway stream may stay idle before the
	// Gateway sends an `event: heartbeat` frame (Loggregator's 15 s).
	DefaultHeartbeat = 15 * time.Second
	// DefaultStreamTimeout is how long a Gateway stream lasts before it
	// sends `event: closing` and ends (clients reconnect); it is under the
	// 15 minutes after which load balancers commonly cut long requests.
	DefaultStreamTimeout = 14 * time.Minute
)

// RouterOption configures a Router.
type RouterOption interface{ applyRouter(*routerConfig) }

// ServerOption configures a Server.
type ServerOption interface{ applyServer(*serverConfig) }

// GatewayOption configures a Gateway.
type GatewayOption interface{ applyGateway(*gatewayConfig) }

// StreamOption configures a Server or a Gateway alike (WithMaxStreams,
// WithBatch).
type StreamOption interface {
	ServerOption
	GatewayOption
}

// Option configures any of Router, Server and Gateway (WithLogger).
type Option interface {
	RouterOption
	ServerOption
	GatewayOption
}

type routerOptionFunc func(*routerConfig)

func (f routerOptionFunc) applyRouter(c *routerConfig) { f(c) }

type serverOptionFunc func(*serverConfig)

func (f serverOptionFunc) applyServer(c *serverConfig) { f(c) }

type gatewayOptionFunc func(*gatewayConfig)

func (f gatewayOptionFunc) applyGateway(c *gatewayConfig) { f(c) }

type streamOption struct {
	server  func(*serverConfig)
	gateway func(*gatewayConfig)
}

func (o streamOption) applyServer(c *serverConfig)   { o.server(c) }
func (o streamOption) applyGateway(c *gatewayConfig) { o.gateway(c) }

type allOption struct {
	router  func(*routerConfig)
	server  func(*serverConfig)
	gateway func(*gatewayConfig)
}

func (o allOption) applyRouter(c *routerConfig)   { o.router(c) }
func (o allOption) applyServer(c *serverConfig)   { o.server(c) }
func (o allOption) applyGateway(c *gatewayConfig) { o.gateway(c) }

type routerConfig struct {
	newBuffer func() (diode.Buffer[[]byte], error) // WithSubscriptionBuffer, or nil: sub
	sub       subBuffer
	fill      fillBound // set by NewRouter from sub, or for a WithSubscriptionBuffer factory
	limits    Limits
	logger    *slog.Logger
	grace     time.Duration
}

func routerDefaults() routerConfig {
	return routerConfig{
		sub:    subBuffer{size: DefaultSubscriptionBuffer},
		logger: slog.New(slog.DiscardHandler),
		grace:  DefaultGroupGrace,
	}
}

type serverConfig struct {
	tls           *tls.Config
	maxStreams    int
	batchSize     int
	maxBatchBytes int // WithMaxBatchBytes
	interval      time.Duration
	kaTime        time.Duration
	kaTimeout     time.Duration
	kaMinPing     time.Duration
	authorizer    authz.Authorizer
	authorizerSet bool // WithAuthorizer was given
	maxClient     int
	maxConns      int
	sendTimeout   time.Duration // WithSendTimeout
	logger        *slog.Logger

	tagsUnchanged bool // WithTagsUnchanged
	reflection    bool // WithReflection
}

func serverDefaults() serverConfig {
	return serverConfig{
		maxStreams: DefaultMaxStreams,
		batchSize:  DefaultBatchSize,
		interval:   DefaultBatchInterval,
		kaTime:     DefaultKeepalive,
		kaTimeout:  DefaultKeepalive,
		kaMinPing:  DefaultMinPingInterval,
		authorizer: authz.Open(),
		maxClient:  DefaultMaxClientStreams,
		maxConns:   DefaultMaxConnections,
		logger:     slog.New(slog.DiscardHandler),

		sendTimeout:   DefaultSendTimeout,
		maxBatchBytes: DefaultMaxBatchBytes,
	}
}

type gatewayConfig struct {
	heartbeat     time.Duration
	timeout       time.Duration
	authorizer    authz.Authorizer
	authorizerSet bool // WithAuthorizer was given
	maxClient     int
	batchSize     int
	interval      time.Duration
	maxStreams    int
	writeTimeout  time.Duration
	maxQuery      int // WithMaxQueryBytes
	logger        *slog.Logger

	strictQuery bool // WithStrictQuery
}

func gatewayDefaults() gatewayConfig {
	return gatewayConfig{
		writeTimeout: DefaultWriteTimeout,
		maxQuery:     DefaultMaxQueryBytes,
		heartbeat:    DefaultHeartbeat,
		timeout:      DefaultStreamTimeout,
		authorizer:   authz.Open(),
		maxClient:    DefaultMaxClientStreams,
		batchSize:    DefaultBatchSize,
		interval:     DefaultBatchInterval,
		maxStreams:   DefaultMaxStreams,
		logger:       slog.New(slog.DiscardHandler),
	}
}

// WithLogger sets the logger of a Router, Server or Gateway (default:
// discard; nil keeps the default).
func WithLogger(l *slog.Logger) Option {
	set := func(dst **slog.Logger) {
		if l != nil {
			*dst = l
		}
	}
	return allOption{
		router:  func(c *routerConfig) { set(&c.logger) },
		server:  func(c *serverConfig) { set(&c.logger) },
		gateway: func(c *gatewayConfig) { set(&c.logger) },
	}
}

// WithMaxStreams sets how many streams a Server (Receiver and
// BatchedReceiver) or a Gateway serves at once (default DefaultMaxStreams).
// A Server answers more with ResourceExhausted, a Gateway with 429 and the
// JSON error "too_many_streams"; both count them as rejected_streams, so a
// crowd of consumers cannot exhaust a router.
func WithMaxStreams(n int) StreamOption {
	return streamOption{
		server:  func(c *serverConfig) { c.maxStreams = n },
		gateway: func(c *gatewayConfig) { c.maxStreams = n },
	}
}

// WithBatch sets the batches a Server sends on BatchedReceiver, or a
// Gateway in one data frame: at most size envelopes, held at most interval
// (defaults 100 and 100 ms). A Server also flushes a partial batch when the
// subscription has been empty for a tenth of interval, so a trickle is not
// delayed.
func WithBatch(size int, interval time.Duration) StreamOption {
	return streamOption{
		server:  func(c *serverConfig) { c.batchSize, c.interval = size, interval },
		gateway: func(c *gatewayConfig) { c.batchSize, c.interval = size, interval },
	}
}

// WithSubscriptionDiode gives every subscription a one-to-one diode of size
// envelopes (default DefaultSubscriptionBuffer): when a subscriber falls a
// whole ring behind, it skips what it missed and the router counts it as
// dropped under its shard ID.
func WithSubscriptionDiode(size int) RouterOption {
	return routerOptionFunc(func(c *routerConfig) {
		c.newBuffer, c.sub.channel, c.sub.size = nil, false, size
	})
}

// WithGroupGrace sets how long a shard group outlives its last member
// (default DefaultGroupGrace; 0 frees it at once). Meanwhile the router keeps
// routing the group's envelopes into the last member's buffer: a member that
// subscribes with the shard ID within the period continues from that
// buffer, so a restarting nozzle loses only what overflowed. What overflows
// meanwhile is counted under the shard ID with cause overflow; what the
// buffer holds when the period ends is counted with cause
// CauseNoSubscriber, and the group's state is freed. A subscription with an
// empty shard ID has no group to wait for: it ends at once.
func WithGroupGrace(d time.Duration) RouterOption {
	return routerOptionFunc(func(c *routerConfig) { c.grace = max(d, 0) })
}

// WithSubscriptionChannel gives every subscription a channel buffer of size
// envelopes instead of a diode: when it is full, the new envelope is dropped
// (and counted), as in Loggregator's reverse log proxy.
func WithSubscriptionChannel(size int) RouterOption {
	return routerOptionFunc(func(c *routerConfig) {
		c.newBuffer, c.sub.channel, c.sub.size = nil, true, size
	})
}

// WithSubscriptionBuffer sets the function that makes each subscription's
// buffer. The router writes to a buffer from one goroutine at a time (its
// publishers are serialized), and the subscriber reads it. Benchmarks use
// diode.Discard to measure routing alone. A nil f keeps the default.
func WithSubscriptionBuffer(f func() diode.Buffer[[]byte]) RouterOption {
	return routerOptionFunc(func(c *routerConfig) {
		if f != nil {
			c.newBuffer = func() (diode.Buffer[[]byte], error) { return f(), nil }
		}
	})
}

// WithTLS makes a Server serve TLS with cfg; set cfg.ClientAuth (and
// ClientCAs) for mutual TLS. Without it the Server serves plaintext.
func WithTLS(cfg *tls.Config) ServerOption {
	return serverOptionFunc(func(c *serverConfig) { c.tls = cfg })
}

// WithKeepalive sets how long a connection may stay silent before the
// Server pings it (interval) and how long it waits for the answer
// (timeout). Defaults: DefaultKeepalive for both.
func WithKeepalive(interval, timeout time.Duration) ServerOption {
	return serverOptionFunc(func(c *serverConfig) { c.kaTime, c.kaTimeout = interval, timeout })
}

// WithMinPingInterval sets the shortest interval between client pings the
// Server tolerates (default DefaultMinPingInterval); clients that ping more
// often are disconnected by grpc with "too_many_pings".
func WithMinPingInterval(d time.Duration) ServerOption {
	return serverOptionFunc(func(c *serverConfig) { c.kaMinPing = d })
}

// WithHeartbeat sets how long a gateway stream may stay idle before a
// heartbeat frame is sent (default DefaultHeartbeat).
func WithHeartbeat(d time.Duration) GatewayOption {
	return gatewayOptionFunc(func(c *gatewayConfig) { c.heartbeat = d })
}

// WithStreamTimeout sets how long a gateway stream lasts before the Gateway
// sends `event: closing` and ends it (default DefaultStreamTimeout).
func WithStreamTimeout(d time.Duration) GatewayOption {
	return gatewayOptionFunc(func(c *gatewayConfig) { c.timeout = d })
}

// WithMaxConnections sets how many connections a Server holds open at once
// on the listeners it serves itself (Serve, Start; default
// DefaultMaxConnections; 0: no limit). Connections beyond it are closed as
// they come and counted (ServerStats.RefusedConnections). A grpc.Server
// shared through Register is its owner's to bound.
func WithMaxConnections(n int) ServerOption {
	return serverOptionFunc(func(c *serverConfig) { c.maxConns = n })
}
