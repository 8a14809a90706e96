package etcd

import (
	"errors"
	"log/slog"
	"strings"
	"time"
)

// ErrInvalidConfig is wrapped by the errors that NewRegistrar and NewWatcher
// return for arguments they cannot work with; test for it with errors.Is.
var ErrInvalidConfig = errors.New("etcd: invalid configuration")

// Option configures a Registrar or a Watcher. Each constructor documents the
// options it reads; the others are ignored. Nil options are skipped.
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
	prefix     string
	job        string
	ttl        time.Duration
}

func buildOptions(opts []Option) options {
	o := options{
		logger:   slog.New(slog.DiscardHandler),
		interval: 10 * time.Second,
		ttl:      10 * time.Second,
		prefix:   DefaultPrefix,
		job:      "router",
	}
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

// WithLogger sets the logger for background events (lost registrations,
// failed reads, wiped data). The default discards everything.
func WithLogger(l *slog.Logger) Option {
	return optionFunc(func(o *options) { o.logger = l })
}

// WithInterval sets how often a Watcher re-reads its prefix to confirm the
// set and to notice a wiped etcd (default 10s).
func WithInterval(d time.Duration) Option {
	return optionFunc(func(o *options) {
		if d > 0 {
			o.interval = d
		}
	})
}

// WithTimeout bounds each etcd request. The default is the Watcher's
// interval or the Registrar's TTL, at most 5s.
func WithTimeout(d time.Duration) Option {
	return optionFunc(func(o *options) { o.timeout = d })
}

// WithAllowEmpty makes a Watcher report an empty prefix as a valid, empty
// set. Without it (the default) an empty prefix keeps the last good set and
// reports discovery.ErrNoEndpoints, so a wiped etcd cannot tear down working
// connections before the routers have registered again.
func WithAllowEmpty() Option {
	return optionFunc(func(o *options) { o.allowEmpty = true })
}

// WithPrefix sets the key prefix of a Registrar or Watcher (default
// DefaultPrefix).
func WithPrefix(prefix string) Option {
	return optionFunc(func(o *options) {
		if prefix != "" {
			o.prefix = strings.TrimSuffix(prefix, "/")
		}
	})
}

// WithJob sets the job segment of a Registrar's key (default "router").
func WithJob(job string) Option {
	return optionFunc(func(o *options) {
		if job != "" {
			o.job = job
		}
	})
}

// leaseSweep is how often etcd's lessor looks for expired leases.
const leaseSweep = 500 * time.Millisecond

// WithTTL sets how soon a Registrar's registration disappears after its
// router dies without deregistering (default 10s, Loggregator's lease TTL).
// etcd leases are granted in whole seconds and etcd sweeps expired leases
// every 500ms, so the registrar asks for the longest whole-second lease that
// still expires within d: floor(d - 500ms), at least one second. etcd refuses
// leases below its minimum (1.5 x its election timeout: 2s with default
// timing, so use at least 2.5s there).
func WithTTL(d time.Duration) Option {
	return optionFunc(func(o *options) {
		if d > 0 {
			o.ttl = d
		}
	})
}

func (o options) requestTimeout(def time.Duration) time.Duration {
	if o.timeout > 0 {
		return o.timeout
	}
	return min(def, 5*time.Second)
}
