package drain

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/sluicelog/sluice/envelope"
	"github.com/sluicelog/sluice/internal/backoff"
)

// ErrInvalidConfig is wrapped by NewManager's error for an unusable option.
var ErrInvalidConfig = errors.New("drain: invalid configuration")

// Emitter takes loss reports; an ingress.Client is one.
type Emitter interface {
	Emit(e *envelope.Envelope)
}

// Option configures a Manager.
type Option interface{ apply(*config) }

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

type config struct {
	log          *slog.Logger
	tls          *tls.Config
	hostname     string
	bufSize      int
	perSource    int
	maxConns     int
	source       Source
	refresh      time.Duration
	lossEvery    time.Duration
	emitter      Emitter
	backoff      backoff.Policy
	retries      int
	dialTimeout  time.Duration
	writeTimeout time.Duration
	flushBytes   int
	httpBytes    int
	httpEvery    time.Duration
	err          error
}

func defaultConfig() config {
	return config{
		log:          slog.New(slog.DiscardHandler),
		bufSize:      10000,
		perSource:    5,
		maxConns:     1000,
		refresh:      time.Minute,
		lossEvery:    time.Minute,
		backoff:      backoff.Policy{Base: 100 * time.Millisecond, Max: 10 * time.Second},
		retries:      3,
		dialTimeout:  5 * time.Second,
		writeTimeout: 10 * time.Second,
		flushBytes:   64 << 10,
		httpBytes:    1 << 20,
		httpEvery:    3 * time.Second,
	}
}

func (c *config) fail(format string, args ...any) {
	if c.err == nil {
		c.err = fmt.Errorf("%w: %s", ErrInvalidConfig, fmt.Sprintf(format, args...))
	}
}

// WithLogger logs connection changes and refused bindings; the default
// discards.
func WithLogger(l *slog.Logger) Option {
	return optionFunc(func(c *config) {
		if l != nil {
			c.log = l
		}
	})
}

// WithTLSConfig is the client TLS configuration for syslog-tls and https
// drains (root CAs, client certificate). The default verifies against the
// system's roots. The server name is taken from each drain's URL unless
// cfg sets one.
func WithTLSConfig(cfg *tls.Config) Option {
	return optionFunc(func(c *config) { c.tls = cfg })
}

// WithHostname is the HOSTNAME of messages whose binding names none and
// whose envelopes' tags name no organization, space or application.
func WithHostname(h string) Option {
	return optionFunc(func(c *config) { c.hostname = h })
}

// WithBufferSize sets each drain's buffer (a many-to-one diode; default
// 10,000 envelopes). When a drain falls behind, its oldest envelopes are
// overwritten and counted dropped ("buffer").
func WithBufferSize(n int) Option {
	return optionFunc(func(c *config) {
		if n < 1 {
			c.fail("buffer size %d < 1", n)
		}
		c.bufSize = n
	})
}

// WithMaxDrainsPerSource caps the drains one source ID may have (default
// 5); beyond it, the bindings of that source whose URLs sort last are
// refused (ErrTooManyDrains, counted "per_source_cap").
func WithMaxDrainsPerSource(n int) Option {
	return optionFunc(func(c *config) {
		if n < 1 {
			c.fail("max drains per source %d < 1", n)
		}
		c.perSource = n
	})
}

// WithMaxConnections caps the drains of the Manager, one connection each
// (default 1,000). Drains already running keep their place; new bindings
// beyond the cap are refused (ErrTooManyDrains, counted
// "connection_cap").
func WithMaxConnections(n int) Option {
	return optionFunc(func(c *config) {
		if n < 1 {
			c.fail("max connections %d < 1", n)
		}
		c.maxConns = n
	})
}

// WithSource makes the Manager ask src for bindings at NewManager and then
// every interval (default 1 minute when interval is 0), applying changes:
// new drains start, removed ones close, unchanged ones keep running.
func WithSource(src Source, every time.Duration) Option {
	return optionFunc(func(c *config) {
		if every < 0 {
			c.fail("source interval %v < 0", every)
		}
		c.source = src
		if every > 0 {
			c.refresh = every
		}
	})
}

// WithLossReports sets how often a drain that dropped envelopes tells its
// owner (default every minute at most, per drain), and where: a log
// envelope "N envelopes dropped for drain URL" with the drain's source ID,
// source_type LGR, on stderr. With a nil emitter (the default) the report
// goes into the Manager itself, so the source's drains carry it, the
// failing one too once it recovers; an ingress.Client sends it into the
// firehose instead, where the owner's log stream shows it.
func WithLossReports(every time.Duration, e Emitter) Option {
	return optionFunc(func(c *config) {
		if every <= 0 {
			c.fail("loss report interval %v <= 0", every)
		}
		c.lossEvery, c.emitter = every, e
	})
}

// WithRetry sets how a drain retries a write that failed: attempts per
// batch (default 3) before the batch is dropped ("write"), and the
// reconnect backoff (default 100 ms doubling to 10 s, with jitter; it
// grows over consecutive failures, not per batch).
func WithRetry(attempts int, base, max time.Duration) Option {
	return optionFunc(func(c *config) {
		if attempts < 1 || base <= 0 || max < base {
			c.fail("retry: %d attempts, backoff %v..%v", attempts, base, max)
		}
		c.retries, c.backoff = attempts, backoff.Policy{Base: base, Max: max}
	})
}

// WithTimeouts sets the dial (default 5 s) and write (default 10 s)
// timeouts of syslog connections and HTTPS requests.
func WithTimeouts(dial, write time.Duration) Option {
	return optionFunc(func(c *config) {
		if dial <= 0 || write <= 0 {
			c.fail("timeouts %v, %v", dial, write)
		}
		c.dialTimeout, c.writeTimeout = dial, write
	})
}

// WithHTTPSBatch sets when an HTTPS drain posts: once the batch holds size
// bytes of messages or interval after its first message (defaults 1 MiB
// and 3 s, as Loggregator).
func WithHTTPSBatch(size int, interval time.Duration) Option {
	return optionFunc(func(c *config) {
		if size < 1 || interval <= 0 {
			c.fail("https batch %d bytes, %v", size, interval)
		}
		c.httpBytes, c.httpEvery = size, interval
	})
}
