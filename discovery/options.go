package discovery

import (
	"errors"
	"log/slog"
	"net"
	"time"
)

// ErrInvalidConfig is wrapped by the errors that constructors return for
// arguments or options they cannot work with; test for it with errors.Is.
var ErrInvalidConfig = errors.New("discovery: invalid configuration")

// Option configures a source. Each constructor documents the options it
// reads; the others are ignored. Nil options are skipped.
type Option interface {
	apply(*options)
}

type optionFunc func(*options)

func (f optionFunc) apply(o *options) { f(o) }

type options struct {
	logger     *slog.Logger
	interval   time.Duration
	timeout    time.Duration
	allowEmpty bool
	maxAge     time.Duration

	// DNS
	port     int
	srv      string
	zone     string
	zoneName string
	resolver *net.Resolver
}

func defaultOptions() options {
	return options{
		logger:   slog.New(slog.DiscardHandler),
		interval: 10 * time.Second,
	}
}

func buildOptions(opts []Option) options {
	o := defaultOptions()
	for _, opt := range opts {
		if opt != nil {
			opt.apply(&o)
		}
	}
	if o.logger == nil {
		o.logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// WithLogger sets the logger for background events (lookup failures,
// re-registrations). The default discards everything.
func WithLogger(l *slog.Logger) Option {
	return optionFunc(func(o *options) { o.logger = l })
}

// WithInterval sets how often DNS looks up (default 10s); Poll takes its
// interval as an argument.
func WithInterval(d time.Duration) Option {
	return optionFunc(func(o *options) {
		if d > 0 {
			o.interval = d
		}
	})
}

// WithTimeout bounds each lookup. The default is the
// interval, at most 5s.
func WithTimeout(d time.Duration) Option {
	return optionFunc(func(o *options) { o.timeout = d })
}

// WithAllowEmpty makes an empty answer a valid set instead of a failure.
// Without it (the default) an empty answer keeps the last good set and
// reports ErrNoEndpoints, so a broken registry cannot tear down working
// connections.
func WithAllowEmpty() Option {
	return optionFunc(func(o *options) { o.allowEmpty = true })
}

// WithMaxAge makes First treat a source whose set is older than d as not
// fresh. The default (0) only looks at the error status.
func WithMaxAge(d time.Duration) Option {
	return optionFunc(func(o *options) { o.maxAge = d })
}

func (o options) requestTimeout() time.Duration {
	if o.timeout > 0 {
		return o.timeout
	}
	return min(o.interval, 5*time.Second)
}
