package egress

import (
	"log/slog"

	"github.com/sluicelog/sluice/diode"
)

// RouterOption configures a Router.
type RouterOption interface{ apply(*routerConfig) }

type routerOptionFunc func(*routerConfig)

func (f routerOptionFunc) apply(c *routerConfig) { f(c) }

type routerConfig struct {
	newBuffer func() (diode.Buffer[[]byte], error)
	logger    *slog.Logger
}

// DefaultSubscriptionBuffer is the size of a subscription's diode, as in
// Loggregator's router.
const DefaultSubscriptionBuffer = 1000

func routerDefaults() routerConfig {
	return routerConfig{
		newBuffer: func() (diode.Buffer[[]byte], error) {
			return diode.NewOneToOne[[]byte](DefaultSubscriptionBuffer)
		},
		logger: slog.New(slog.DiscardHandler),
	}
}

// WithSubscriptionDiode gives every subscription a one-to-one diode of size
// envelopes (default DefaultSubscriptionBuffer): when a subscriber falls a
// whole ring behind, it skips what it missed and the router counts it as
// dropped under its shard ID.
func WithSubscriptionDiode(size int) RouterOption {
	return routerOptionFunc(func(c *routerConfig) {
		c.newBuffer = func() (diode.Buffer[[]byte], error) { return diode.NewOneToOne[[]byte](size) }
	})
}

// WithSubscriptionChannel gives every subscription a channel buffer of size
// envelopes instead of a diode: when it is full, the new envelope is dropped
// (and counted), as in Loggregator's reverse log proxy.
func WithSubscriptionChannel(size int) RouterOption {
	return routerOptionFunc(func(c *routerConfig) {
		c.newBuffer = func() (diode.Buffer[[]byte], error) { return diode.NewChannel[[]byte](size) }
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

// WithRouterLogger sets the logger (default: discard).
func WithRouterLogger(l *slog.Logger) RouterOption {
	return routerOptionFunc(func(c *routerConfig) {
		if l != nil {
			c.logger = l
		}
	})
}
