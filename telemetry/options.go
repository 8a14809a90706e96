package telemetry

import (
	"log/slog"
	"maps"
	"time"
)

// CollectorOption configures a Collector.
type CollectorOption interface{ applyCollector(*config) }

// EmitterOption configures an Emitter.
type EmitterOption interface{ applyEmitter(*config) }

// Option configures a Collector or an Emitter alike.
type Option interface {
	CollectorOption
	EmitterOption
}

type config struct {
	labels   map[string]string
	logger   *slog.Logger
	interval time.Duration
}

func defaults() config {
	return config{labels: map[string]string{}, logger: slog.New(slog.DiscardHandler), interval: 15 * time.Second}
}

type optionFunc func(*config)

func (f optionFunc) applyCollector(c *config) { f(c) }
func (f optionFunc) applyEmitter(c *config)   { f(c) }

type emitterOptionFunc func(*config)

func (f emitterOptionFunc) applyEmitter(c *config) { f(c) }

// WithLabels adds labels to every series: constant labels of a Collector
// (source_id, deployment, job, index...), tags of every envelope of an
// Emitter. They come after the component label and before the metric's own
// tags: a tag that a label already named is renamed exported_<key>. A
// label named component is refused (ErrInvalidConfig).
func WithLabels(labels map[string]string) Option {
	return optionFunc(func(c *config) { maps.Copy(c.labels, labels) })
}

// WithLogger sets the logger for series left out (duplicate, type
// conflict, invalid). The default discards; nil keeps the default.
func WithLogger(l *slog.Logger) Option {
	return optionFunc(func(c *config) {
		if l != nil {
			c.logger = l
		}
	})
}

// WithInterval sets how often Emitter.Run emits (default 15 s,
// Loggregator's metric emitter interval); d <= 0 keeps the default.
func WithInterval(d time.Duration) EmitterOption {
	return emitterOptionFunc(func(c *config) {
		if d > 0 {
			c.interval = d
		}
	})
}
