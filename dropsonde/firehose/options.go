package firehose

import (
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/sluicelog/sluice/egress/serve"
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
	authorize    serve.AuthorizeFunc
	checkOrigin  func(*http.Request) bool
	slowConsumer time.Duration
	keepalive    time.Duration
	logger       *slog.Logger
}

func defaultConfig() config {
	return config{
		authorize:    func(*http.Request, []string) error { return nil },
		slowConsumer: DefaultSlowConsumerTimeout,
		keepalive:    DefaultKeepalive,
		logger:       slog.New(slog.DiscardHandler),
	}
}

// WithAuthorizer sets the hook that decides whether a request may read
// (the same hook as serve.WithAuthorizer for the gateway): it gets no source
// ID for /firehose (the whole firehose, an admin's grant) and the one source
// ID of /apps/{source_id}/stream. An error refuses the request with 403 and
// its text. Default: every request may read everything.
func WithAuthorizer(f serve.AuthorizeFunc) Option {
	return optionFunc(func(c *config) {
		if f != nil {
			c.authorize = f
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
