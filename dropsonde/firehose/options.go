package firehose

import (
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/sluicelog/sluice/egress/authz"
)

// ErrInvalidConfig is wrapped by NewHandler's errors for a configuration it
// cannot work with.
var ErrInvalidConfig = errors.New("firehose: invalid config")

// Defaults, the traffic controller's.
const (
	// DefaultSlowConsumerTimeout is how long one message may take to be
	// written before the client counts as a slow consumer and its stream
	// is closed.
	DefaultSlowConsumerTimeout = 5 * time.Second
	// DefaultKeepalive is the interval of websocket pings.
	DefaultKeepalive = 30 * time.Second
)

// Option configures a Handler.
type Option interface{ apply(*config) }

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

type config struct {
	authorizer   authz.Authorizer
	checkOrigin  func(*http.Request) bool
	slowConsumer time.Duration
	keepalive    time.Duration
	logger       *slog.Logger
}

func defaultConfig() config {
	return config{
		authorizer:   authz.Open(),
		slowConsumer: DefaultSlowConsumerTimeout,
		keepalive:    DefaultKeepalive,
		logger:       slog.New(slog.DiscardHandler),
	}
}

// WithAuthorizer sets who may read (the same authz.Authorizer as
// serve.WithAuthorizer): /firehose/{subscription_id} asks for the whole
// firehose with the subscription ID as shard ID, /apps/{source_id}/stream for
// one source ID. A refusal wrapping authz.ErrUnauthenticated is answered 401,
// one wrapping authz.ErrDenied 403, any other error 503, each with the
// error's text. Default: authz.Open, every request may read everything.
func WithAuthorizer(a authz.Authorizer) Option {
	return optionFunc(func(c *config) {
		if a != nil {
			c.authorizer = a
		}
	})
}

// WithCheckOrigin sets the websocket origin check (default: gorilla's,
// which accepts a request without Origin or with the Host's origin).
func WithCheckOrigin(f func(*http.Request) bool) Option {
	return optionFunc(func(c *config) { c.checkOrigin = f })
}

// WithSlowConsumerTimeout sets how long one message may take to be written
// (default DefaultSlowConsumerTimeout); a client slower than that is closed
// and counted as a slow consumer.
func WithSlowConsumerTimeout(d time.Duration) Option {
	return optionFunc(func(c *config) { c.slowConsumer = d })
}

// WithKeepalive sets the interval of websocket pings (default
// DefaultKeepalive).
func WithKeepalive(d time.Duration) Option {
	return optionFunc(func(c *config) { c.keepalive = d })
}

// WithLogger sets the logger (default: discard; nil keeps it).
func WithLogger(l *slog.Logger) Option {
	return optionFunc(func(c *config) {
		if l != nil {
			c.logger = l
		}
	})
}
