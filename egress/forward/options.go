package forward

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"time"

	"github.com/sluicelog/sluice/internal/batch"
)

// Mode says how a Pool sends batches: see "Choosing a mode" in the Pool
// documentation.
type Mode int

const (
	// Streaming sends batches on BatchSender client streams, as
	// Loggregator's agent does. Fastest; what was in flight when a stream
	// broke is not known to have arrived (PoolStats.Unconfirmed).
	Streaming Mode = iota
	// Acknowledged sends each batch with the unary Send call, several in
	// flight per stream; a batch is delivered only when the router confirms it.
	Acknowledged
)

// String returns "stream" or "ack".
func (m Mode) String() string {
	if m == Acknowledged {
		return "ack"
	}
	return "stream"
}

// PoolOption configures a Pool.
type PoolOption interface{ applyPool(*poolConfig) }

// ForwarderOption configures a Forwarder.
type ForwarderOption interface{ applyForwarder(*forwarderConfig) }

// Option configures a Pool or a Forwarder alike (WithLogger).
type Option interface {
	PoolOption
	ForwarderOption
}

type poolOptionFunc func(*poolConfig)

func (f poolOptionFunc) applyPool(c *poolConfig) { f(c) }

type forwarderOptionFunc func(*forwarderConfig)

func (f forwarderOptionFunc) applyForwarder(c *forwarderConfig) { f(c) }

type bothOption struct {
	pool      func(*poolConfig)
	forwarder func(*forwarderConfig)
}

func (o bothOption) applyPool(c *poolConfig)           { o.pool(c) }
func (o bothOption) applyForwarder(c *forwarderConfig) { o.forwarder(c) }

type forwarderConfig struct {
	batch  batch.Config
	drain  time.Duration
	logger *slog.Logger
}

type poolConfig struct {
	streams       int
	zone          string
	mode          Mode
	inflight      int
	queue         int
	recycle       time.Duration
	probe         time.Duration
	waitUp        time.Duration
	sendTimeout   time.Duration
	connectTO     time.Duration
	backoffBase   time.Duration
	backoffMax    time.Duration
	kaTime        time.Duration
	kaTimeout     time.Duration
	tls           *tls.Config
	maxMsg        int
	inflightBytes int
	logger        *slog.Logger
}

func poolDefaults() poolConfig {
	return poolConfig{
		streams:       5,
		mode:          Streaming,
		inflight:      4,
		queue:         4,
		recycle:       3 * time.Minute,
		probe:         time.Second,
		waitUp:        time.Second,
		sendTimeout:   10 * time.Second,
		connectTO:     5 * time.Second,
		backoffBase:   100 * time.Millisecond,
		backoffMax:    5 * time.Second,
		kaTime:        15 * time.Second,
		kaTimeout:     5 * time.Second,
		maxMsg:        10 << 20,
		inflightBytes: 256 << 10,
		logger:        slog.New(slog.DiscardHandler),
	}
}

func (c *poolConfig) validate() error {
	switch {
	case c.streams < 1:
		return fmt.Errorf("%w: streams %d < 1", ErrInvalidConfig, c.streams)
	case c.inflight < 1:
		return fmt.Errorf("%w: in-flight batches %d < 1", ErrInvalidConfig, c.inflight)
	case c.queue < 1:
		return fmt.Errorf("%w: queue %d < 1", ErrInvalidConfig, c.queue)
	case c.recycle <= 0 || c.probe <= 0 || c.waitUp < 0 || c.sendTimeout <= 0 || c.connectTO <= 0:
		return fmt.Errorf("%w: durations must be positive", ErrInvalidConfig)
	case c.backoffBase <= 0 || c.backoffMax < c.backoffBase:
		return fmt.Errorf("%w: backoff base %v, max %v", ErrInvalidConfig, c.backoffBase, c.backoffMax)
	case c.kaTime <= 0 || c.kaTimeout <= 0:
		return fmt.Errorf("%w: keepalive time and timeout must be positive", ErrInvalidConfig)
	case c.mode != Streaming && c.mode != Acknowledged:
		return fmt.Errorf("%w: unknown mode %d", ErrInvalidConfig, c.mode)
	case c.maxMsg < 1:
		return fmt.Errorf("%w: maximum message size %d", ErrInvalidConfig, c.maxMsg)
	}
	return nil
}

// WithStreams sets how many streams the pool keeps (default 5,
// Loggregator's).
func WithStreams(n int) PoolOption { return poolOptionFunc(func(c *poolConfig) { c.streams = n }) }

// WithZone sets the pool's own availability zone. Routers whose
// discovery.Endpoint.Zone equals it are preferred; the others are used only
// while no router of this zone is reachable. Empty (the default) treats every
// router as local.
func WithZone(zone string) PoolOption { return poolOptionFunc(func(c *poolConfig) { c.zone = zone }) }

// WithMode chooses streaming (default) or acknowledged sending.
func WithMode(m Mode) PoolOption { return poolOptionFunc(func(c *poolConfig) { c.mode = m }) }

// WithInflight sets how many Send calls each stream keeps in flight in
// acknowledged mode (default 4).
func WithInflight(n int) PoolOption {
	return poolOptionFunc(func(c *poolConfig) { c.inflight = n })
}

// WithQueue sets how many batches wait in each stream's queue before
// Write blocks (default 4).
func WithQueue(n int) PoolOption { return poolOptionFunc(func(c *poolConfig) { c.queue = n }) }

// WithRecycle sets the recycle interval (default 3 minutes): each stream is
// closed gracefully and opened again on a freshly chosen router after a
// random time in [3/4 d, d], so every router gets traffic within d.
func WithRecycle(d time.Duration) PoolOption {
	return poolOptionFunc(func(c *poolConfig) { c.recycle = d })
}

// WithProbe sets how often the pool rebalances and, while it uses routers
// of other zones, redials the local ones (default 1s).
func WithProbe(d time.Duration) PoolOption {
	return poolOptionFunc(func(c *poolConfig) { c.probe = d })
}

// WithWait sets how long Write waits for a stream when routers are known
// but none is up, before the batch is dropped with CauseUnreachable
// (default 1s; 0 drops at once).
func WithWait(d time.Duration) PoolOption {
	return poolOptionFunc(func(c *poolConfig) { c.waitUp = d })
}

// WithSendTimeout bounds one acknowledged Send call (default 10s) and
// the graceful close of a stream.
func WithSendTimeout(d time.Duration) PoolOption {
	return poolOptionFunc(func(c *poolConfig) { c.sendTimeout = d })
}

// WithConnectTimeout bounds connecting to a router before a stream is
// opened on it (default 5s).
func WithConnectTimeout(d time.Duration) PoolOption {
	return poolOptionFunc(func(c *poolConfig) { c.connectTO = d })
}

// WithBackoff sets the exponential backoff (with jitter) between
// attempts on a router that failed (defaults 100ms up to 5s).
func WithBackoff(base, max time.Duration) PoolOption {
	return poolOptionFunc(func(c *poolConfig) { c.backoffBase, c.backoffMax = base, max })
}

// WithKeepalive sets the gRPC keepalive: a ping after interval without
// activity, and the connection is closed when the ping is not answered within
// timeout (defaults 15s and 5s). grpc-go raises an interval below 10s to 10s.
// Routers must permit pings this often (keepalive.EnforcementPolicy MinTime),
// or they close the connection with "too_many_pings".
func WithKeepalive(interval, timeout time.Duration) PoolOption {
	return poolOptionFunc(func(c *poolConfig) { c.kaTime, c.kaTimeout = interval, timeout })
}

// WithTLS makes the pool dial routers with TLS (a config with
// Certificates gives mutual TLS). The default is plaintext.
func WithTLS(cfg *tls.Config) PoolOption {
	return poolOptionFunc(func(c *poolConfig) { c.tls = cfg })
}

// WithMaxMessageSize sets the largest message sent (default 10 MiB). A batch
// that does not fit is dropped with CauseTooLarge.
func WithMaxMessageSize(n int) PoolOption {
	return poolOptionFunc(func(c *poolConfig) { c.maxMsg = n })
}

// WithLogger sets the logger of a Pool (connection events) or a Forwarder
// (default discards; nil keeps the default).
func WithLogger(l *slog.Logger) Option {
	return bothOption{
		pool: func(c *poolConfig) {
			if l != nil {
				c.logger = l
			}
		},
		forwarder: func(c *forwarderConfig) {
			if l != nil {
				c.logger = l
			}
		},
	}
}

// WithBatch sets a Forwarder's largest batch (default 100 envelopes) and the
// longest an envelope waits in a partial batch (default 100ms); a partial
// batch is also flushed when the buffer stays empty for a tenth of interval.
func WithBatch(size int, interval time.Duration) ForwarderOption {
	return forwarderOptionFunc(func(c *forwarderConfig) { c.batch.Size, c.batch.Interval = size, interval })
}

// WithDrainTimeout bounds how long a Forwarder's Run, once its context
// ended, keeps handing the rest of the buffer to the destination (default
// 5s). What is left then is dropped with CauseShutdown.
func WithDrainTimeout(d time.Duration) ForwarderOption {
	return forwarderOptionFunc(func(c *forwarderConfig) { c.drain = d })
}

// WithUnconfirmedBound sets how many of the last bytes a broken stream
// carried count as unconfirmed in streaming mode (default 256 KiB: a 64 KiB
// HTTP/2 stream window at the router plus grpc-go's 64 KiB client write
// quota, with room to spare). Raise it for routers with larger windows.
func WithUnconfirmedBound(bytes int) PoolOption {
	return poolOptionFunc(func(c *poolConfig) { c.inflightBytes = bytes })
}
