package egress

import (
	"log/slog"
	"net/http"
	"time"
)

// Gateway defaults.
const (
	// DefaultGatewayHeartbeat is how long a stream may stay idle before the
	// Gateway sends an `event: heartbeat` frame (Loggregator's 15 s).
	DefaultGatewayHeartbeat = 15 * time.Second
	// DefaultGatewayStreamTimeout is how long a Gateway stream lasts before
	// it sends `event: closing` and ends (clients reconnect); it is under the
	// 15 minutes after which load balancers commonly cut long requests.
	DefaultGatewayStreamTimeout = 14 * time.Minute
)

// AuthorizeFunc decides whether a request may read the given source IDs
// (empty: every source ID, the firehose). A non-nil error refuses the
// request with 403 and the error's text as the message.
type AuthorizeFunc func(r *http.Request, sourceIDs []string) error

// GatewayOption configures a Gateway.
type GatewayOption interface{ apply(*gatewayConfig) }

type gatewayOptionFunc func(*gatewayConfig)

func (f gatewayOptionFunc) apply(c *gatewayConfig) { f(c) }

type gatewayConfig struct {
	heartbeat  time.Duration
	timeout    time.Duration
	authorize  AuthorizeFunc
	batchSize  int
	interval   time.Duration
	maxStreams int
	logger     *slog.Logger
}

func gatewayDefaults() gatewayConfig {
	return gatewayConfig{
		heartbeat:  DefaultGatewayHeartbeat,
		timeout:    DefaultGatewayStreamTimeout,
		authorize:  func(*http.Request, []string) error { return nil },
		batchSize:  DefaultServerBatchSize,
		interval:   DefaultServerBatchInterval,
		maxStreams: DefaultServerMaxStreams,
		logger:     slog.New(slog.DiscardHandler),
	}
}

// WithGatewayMaxStreams sets how many streams the Gateway serves at once
// (default DefaultServerMaxStreams, as the Egress server); a request beyond
// that is answered 429 with the JSON error "too_many_streams" and counted in
// rejected_streams, so a crowd of HTTP consumers cannot exhaust a router.
func WithGatewayMaxStreams(n int) GatewayOption {
	return gatewayOptionFunc(func(c *gatewayConfig) { c.maxStreams = n })
}

// WithGatewayHeartbeat sets how long a stream may stay idle before a
// heartbeat frame is sent (default DefaultGatewayHeartbeat).
func WithGatewayHeartbeat(d time.Duration) GatewayOption {
	return gatewayOptionFunc(func(c *gatewayConfig) { c.heartbeat = d })
}

// WithGatewayStreamTimeout sets how long a stream lasts before the Gateway
// sends `event: closing` and ends it (default DefaultGatewayStreamTimeout).
func WithGatewayStreamTimeout(d time.Duration) GatewayOption {
	return gatewayOptionFunc(func(c *gatewayConfig) { c.timeout = d })
}

// WithGatewayAuthorizer sets the hook that decides which source IDs a
// request may read (default: every request may read everything). It runs
// before subscribing; put authentication in it or in front of the Gateway.
func WithGatewayAuthorizer(f AuthorizeFunc) GatewayOption {
	return gatewayOptionFunc(func(c *gatewayConfig) {
		if f != nil {
			c.authorize = f
		}
	})
}

// WithGatewayBatching sets the most envelopes in one data frame and the
// longest an envelope waits for its frame (defaults 100 and 100 ms).
func WithGatewayBatching(size int, interval time.Duration) GatewayOption {
	return gatewayOptionFunc(func(c *gatewayConfig) { c.batchSize, c.interval = size, interval })
}

// WithGatewayLogger sets the logger (default: discard).
func WithGatewayLogger(l *slog.Logger) GatewayOption {
	return gatewayOptionFunc(func(c *gatewayConfig) {
		if l != nil {
			c.logger = l
		}
	})
}
