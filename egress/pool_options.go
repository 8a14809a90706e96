package egress

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"time"
)

// PoolMode says how a Pool sends batches: see "Choosing a mode" in the Pool
// documentation.
type PoolMode int

const (
	// PoolStreaming sends batches on BatchSender client streams, as
	// Loggregator's agent does. Fastest; what was in flight when a stream
	// broke is not known to have arrived (PoolStats.Unconfirmed).
	PoolStreaming PoolMode = iota
	// PoolAcknowledged sends each batch with the unary Send call, several in
	// flight per stream; a batch is delivered only when the router confirms it.
	PoolAcknowledged
)

// String returns "stream" or "ack".
func (m PoolMode) String() string {
	if m == PoolAcknowledged {
		return "ack"
	}
	return "stream"
}

// PoolOption configures a Pool.
type PoolOption interface{ apply(*poolConfig) }

type poolOptionFunc func(*poolConfig)

func (f poolOptionFunc) apply(c *poolConfig) { f(c) }

type poolConfig struct {
	streams       int
	zone          string
	mode          PoolMode
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
		mode:          PoolStreaming,
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
		return fmt.Errorf("%w: streams %d < 1", ErrPoolConfig, c.streams)
	case c.inflight < 1:
		return fmt.Errorf("%w: in-flight batches %d < 1", ErrPoolConfig, c.inflight)
	case c.queue < 1:
		return fmt.Errorf("%w: queue %d < 1", ErrPoolConfig, c.queue)
	case c.recycle <= 0 || c.probe <= 0 || c.waitUp < 0 || c.sendTimeout <= 0 || c.connectTO <= 0:
		return fmt.Errorf("%w: durations must be positive", ErrPoolConfig)
	case c.backoffBase <= 0 || c.backoffMax < c.backoffBase:
		return fmt.Errorf("%w: backoff base %v, max %v", ErrPoolConfig, c.backoffBase, c.backoffMax)
	case c.kaTime <= 0 || c.kaTimeout <= 0:
		return fmt.Errorf("%w: keepalive time and timeout must be positive", ErrPoolConfig)
	case c.mode != PoolStreaming && c.mode != PoolAcknowledged:
		return fmt.Errorf("%w: unknown mode %d", ErrPoolConfig, c.mode)
	case c.maxMsg < 1:
		return fmt.Errorf("%w: maximum message size %d", ErrPoolConfig, c.maxMsg)
	}
	return nil
}

// WithPoolStreams sets how many streams the pool keeps (default 5,
// Loggregator's).
func WithPoolStreams(n int) PoolOption { return poolOptionFunc(func(c *poolConfig) { c.streams = n }) }

// WithZone sets the pool's own availability zone. Routers whose
// discovery.Endpoint.Zone equals it are preferred; the others are used only
// while no router of this zone is reachable. Empty (the default) treats every
// router as local.
func WithZone(zone string) PoolOption { return poolOptionFunc(func(c *poolConfig) { c.zone = zone }) }

// WithPoolMode chooses streaming (default) or acknowledged sending.
func WithPoolMode(m PoolMode) PoolOption { return poolOptionFunc(func(c *poolConfig) { c.mode = m }) }

// WithPoolInflight sets how many Send calls each stream keeps in flight in
// acknowledged mode (default 4).
func WithPoolInflight(n int) PoolOption {
	return poolOptionFunc(func(c *poolConfig) { c.inflight = n })
}

// WithPoolQueue sets how many batches wait in each stream's queue before
// Write blocks (default 4).
func WithPoolQueue(n int) PoolOption { return poolOptionFunc(func(c *poolConfig) { c.queue = n }) }

// WithRecycle sets the recycle interval (default 3 minutes): each stream is
// closed gracefully and opened again on a freshly chosen router after a
// random time in [3/4 d, d], so every router gets traffic within d.
func WithRecycle(d time.Duration) PoolOption {
	return poolOptionFunc(func(c *poolConfig) { c.recycle = d })
}

// WithPoolProbe sets how often the pool rebalances and, while it uses routers
// of other zones, redials the local ones (default 1s).
func WithPoolProbe(d time.Duration) PoolOption {
	return poolOptionFunc(func(c *poolConfig) { c.probe = d })
}

// WithPoolWait sets how long Write waits for a stream when routers are known
// but none is up, before the batch is dropped with PoolCauseUnreachable
// (default 1s; 0 drops at once).
func WithPoolWait(d time.Duration) PoolOption {
	return poolOptionFunc(func(c *poolConfig) { c.waitUp = d })
}

// WithPoolSendTimeout bounds one acknowledged Send call (default 10s) and
// the graceful close of a stream.
func WithPoolSendTimeout(d time.Duration) PoolOption {
	return poolOptionFunc(func(c *poolConfig) { c.sendTimeout = d })
}

// WithPoolConnectTimeout bounds connecting to a router before a stream is
// opened on it (default 5s).
func WithPoolConnectTimeout(d time.Duration) PoolOption {
	return poolOptionFunc(func(c *poolConfig) { c.connectTO = d })
}

// WithPoolBackoff sets the exponential backoff (with jitter) between
// attempts on a router that failed (defaults 100ms up to 5s).
func WithPoolBackoff(base, max time.Duration) PoolOption {
	return poolOptionFunc(func(c *poolConfig) { c.backoffBase, c.backoffMax = base, max })
}

// WithPoolKeepalive sets the gRPC keepalive: a ping after time without
// activity, and the connection is closed when the ping is not answered within
// timeout (defaults 15s and 5s). grpc-go raises time below 10s to 10s.
// Routers must permit pings this often (keepalive.EnforcementPolicy MinTime),
// or they close the connection with "too_many_pings".
func WithPoolKeepalive(time, timeout time.Duration) PoolOption {
	return poolOptionFunc(func(c *poolConfig) { c.kaTime, c.kaTimeout = time, timeout })
}

// WithPoolTLS makes the pool dial routers with TLS (a config with
// Certificates gives mutual TLS). The default is plaintext.
func WithPoolTLS(cfg *tls.Config) PoolOption {
	return poolOptionFunc(func(c *poolConfig) { c.tls = cfg })
}

// WithPoolMaxMessage sets the largest message sent (default 10 MiB). A batch
// that does not fit is dropped with PoolCauseTooLarge.
func WithPoolMaxMessage(n int) PoolOption {
	return poolOptionFunc(func(c *poolConfig) { c.maxMsg = n })
}

// WithPoolLogger sets the logger for connection events (default discards).
func WithPoolLogger(l *slog.Logger) PoolOption {
	return poolOptionFunc(func(c *poolConfig) {
		if l != nil {
			c.logger = l
		}
	})
}

// WithPoolUnconfirmedBound sets how many of the last bytes a broken stream
// carried count as unconfirmed in streaming mode (default 256 KiB: a 64 KiB
// HTTP/2 stream window at the router plus grpc-go's 64 KiB client write
// quota, with room to spare). Raise it for routers with larger windows.
func WithPoolUnconfirmedBound(bytes int) PoolOption {
	return poolOptionFunc(func(c *poolConfig) { c.inflightBytes = bytes })
}
