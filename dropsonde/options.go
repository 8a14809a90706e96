package dropsonde

import (
	"errors"
	"log/slog"
	"time"
)

// ErrInvalidConfig is returned (wrapped) by NewIngestor for a configuration
// it cannot work with.
var ErrInvalidConfig = errors.New("dropsonde: invalid config")

// Option configures an Ingestor.
type Option interface{ apply(*config) }

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

type config struct {
	logger    *slog.Logger
	warnEvery time.Duration
}

func defaultConfig() config {
	return config{logger: slog.New(slog.DiscardHandler), warnEvery: time.Second}
}

// WithLogger sets the logger for refused envelopes (warnings, rate-limited
// by WithWarnInterval). Default: discard. A nil logger is ignored.
func WithLogger(l *slog.Logger) Option {
	return optionFunc(func(c *config) {
		if l != nil {
			c.logger = l
		}
	})
}

// WithWarnInterval sets how often at most the Ingestor logs a refused
// envelope (default 1 s); the warning says how many were refused without a
// log line since the last one. It must be positive.
func WithWarnInterval(d time.Duration) Option {
	return optionFunc(func(c *config) { c.warnEvery = d })
}
