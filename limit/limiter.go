package limit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"time"

	"github.com/sluicelog/sluice/diode"
)

// CauseRateLimited is the cause under which a Limiter's drops are counted.
const CauseRateLimited = "rate_limited"

// Defaults for the table of sources.
const (
	DefaultMaxSources  = 10_000
	DefaultIdleTimeout = 5 * time.Minute
	DefaultResolution  = time.Millisecond
)

// ErrNilBuffer is returned by New when it is given no buffer to wrap.
var ErrNilBuffer = errors.New("limit: buffer must not be nil")

// Limiter is a per-source rate limiter in front of a diode.Buffer of
// marshaled Envelopes: each source ID has a token bucket (the default
// Limit or its own), an envelope that finds its bucket empty is dropped and
// counted with cause rate_limited, and the others pass to the buffer. It is
// itself a diode.Buffer, so it sits wherever an ingress server takes one.
//
// Set reads the source ID from the wire bytes (SourceID), allocates
// nothing and never blocks on the reader. SetKeyed and SetBatch take the
// source IDs from a writer that has read them (it is a diode.Keyed; an
// ingress.Server hands over what it read while validating), and SetBatch
// takes its lock and reads its clock once per 64 envelopes. The table of sources holds at
// most MaxSources entries; a new source finding it full takes the place of
// one idle for IdleTimeout, or else shares one bucket (with the default
// limit) with the other latecomers until a place frees up.
//
// TryNext, Next and the alert callback are the wrapped buffer's. Stats
// counts as the buffer does, with Written the calls to Set and the
// rate-limited envelopes in Dropped, so Written == Read + Dropped after a
// drain, as for every buffer; Counts tells the causes apart.
//
// Close stops the clock goroutine; it does not touch the wrapped buffer.
type Limiter struct {
	next   diode.Buffer[[]byte]
	fair   *diode.Fair[[]byte]      // next, when it is NewFair's (keyed by SourceID)
	ring   *diode.ManyToOne[[]byte] // next, when it is a ManyToOne: called directly
	seed   diode.KeySeed            // hashes source IDs for the table (and the fair buffer)
	now    func() int64             // WithClock's clock; nil when clock runs
	clock  *coarseClock
	sum    *Summary
	logger *slog.Logger
	max    int
	idle   int64
	probe  int // entries the eviction hand looks at per new source

	mu        sync.Mutex
	cfg       Config
	tab       table
	srcs      []source
	hand      int
	overflow  source
	written   uint64
	limited   uint64
	evicted   uint64
	overflows uint64
	detached  bool // Close has handed the counts over: Set counts into sum
}

// source is one row of the table: a GCRA token bucket (the theoretical
// arrival time tat of the next conforming envelope; an envelope conforms
// when tat - now <= tol) and when the source was last seen.
type source struct {
	hash     uint64
	tat      int64 // ns
	interval int64 // ns between envelopes at the sustained rate; 0 unlimited
	tol      int64 // (burst-1) * interval
	last     int64 // ns
	// sent and dropped are counted for the Summary and not yet handed
	// over to it (see handOver); a long row counts into it directly.
	sent, dropped uint64
	n             uint8 // bytes of name in use
	long          bool  // the source ID was cut to nameCap bytes, or no ID: the overflow row
	name          [nameCap]byte
}

// key returns the source ID (cut to nameCap bytes); it shares the row's
// memory, so it is for lookups, not for keeping.
func (s *source) key() string { return unsafeString(s.name[:s.n]) }

// Option configures a Limiter.
type Option interface{ apply(*options) }

type options struct {
	maxSources int
	idle       time.Duration
	res        time.Duration
	clock      func() time.Time
	sum        *Summary
	logger     *slog.Logger
}

type optionFunc func(*options)

func (f optionFunc) apply(o *options) { f(o) }

// WithMaxSources caps the table of sources (default 10,000; about 160
// bytes each, reserved as sources arrive).
func WithMaxSources(n int) Option { return optionFunc(func(o *options) { o.maxSources = n }) }

// WithIdleTimeout sets how long a source must be quiet before a new source
// may take its place in a full table (default 5 minutes).
func WithIdleTimeout(d time.Duration) Option { return optionFunc(func(o *options) { o.idle = d }) }

// WithResolution sets how often the Limiter's clock goroutine reads the
// time (default 1 ms).
func WithResolution(d time.Duration) Option { return optionFunc(func(o *options) { o.res = d }) }

// WithClock makes the Limiter read the time from now on every Set instead
// of running a clock goroutine; tests use it to step time by hand.
func WithClock(now func() time.Time) Option { return optionFunc(func(o *options) { o.clock = now }) }

// WithSummary makes the Limiter count every envelope it is given, and each
// one it drops, per source in s. It counts them in its own table of
// sources and hands them over to s when s is read (Snapshot), when a
// source leaves the table and on Close, so Set costs no more for it;
// from Close on, Set counts into s directly.
func WithSummary(s *Summary) Option { return optionFunc(func(o *options) { o.sum = s }) }

// WithLogger sets the logger for reloads (default: discard).
func WithLogger(l *slog.Logger) Option { return optionFunc(func(o *options) { o.logger = l }) }

// New returns a Limiter applying cfg in front of next.
func New(next diode.Buffer[[]byte], cfg Config, opts ...Option) (*Limiter, error) {
	if next == nil {
		return nil, ErrNilBuffer
	}
	o := options{maxSources: DefaultMaxSources, idle: DefaultIdleTimeout, res: DefaultResolution}
	for _, opt := range opts {
		if opt != nil {
			opt.apply(&o)
		}
	}
	if o.maxSources < 1 || o.maxSources > 1<<24 {
		return nil, fmt.Errorf("%w: max sources %d is not in [1, %d]", ErrInvalidConfig, o.maxSources, 1<<24)
	}
	if o.idle <= 0 || o.res <= 0 {
		return nil, fmt.Errorf("%w: idle timeout and resolution must be positive", ErrInvalidConfig)
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if o.logger == nil {
		o.logger = slog.New(slog.DiscardHandler)
	}
	l := &Limiter{
		next: next, seed: diode.NewKeySeed(), sum: o.sum, logger: o.logger,
		max: o.maxSources, idle: int64(o.idle), probe: min(o.maxSources, 32),
		cfg: cfg, tab: newTable(min(o.maxSources, 64)), // grows with the sources
	}
	l.overflow.setLimit(cfg.Default)
	l.overflow.long = true // counts into the Summary directly
	if l.sum != nil {
		l.sum.attach(l)
	}
	switch n := next.(type) {
	case *sourceFair:
		l.fair = n.Fair
		l.seed = n.Seed() // one hash of the source ID serves both tables
	case *diode.ManyToOne[[]byte]:
		l.ring = n
	}
	if o.clock != nil {
		base := o.clock()
		l.now = func() int64 { return int64(o.clock().Sub(base)) }
	} else {
		l.clock = startClock(o.res, func() uint64 {
			l.mu.Lock()
			defer l.mu.Unlock()
			return l.written
		})
	}
	return l, nil
}

var _ diode.Buffer[[]byte] = (*Limiter)(nil)

// Set passes e to the buffer if its source's bucket has a token, and
// drops it otherwise. It reads the source ID from the wire bytes
// (SourceID); SetKeyed and SetBatch take it from a writer that has read it.
func (l *Limiter) Set(e []byte) { l.SetKeyed(e, SourceID(e)) }

// SetKeyed is Set for an e whose source ID the caller has read already
// (it must be SourceID(e)): an ingress server reads it while validating.
func (l *Limiter) SetKeyed(e []byte, id string) {
	h := l.seed.Hash(id)
	now := l.nowNs()
	l.mu.Lock()
	l.written++
	var s *source
	if i := l.tab.get(h); i >= 0 { // the common case, without a call
		s = &l.srcs[i]
	} else {
		s = l.source(h, id, now)
	}
	ok, direct := l.take(s, now)
	l.mu.Unlock()
	if ok {
		switch {
		case l.fair != nil:
			l.fair.SetHashed(e, id, h) // a fair buffer keyed by SourceID: no second read
		case l.ring != nil:
			l.ring.Set(e)
		default:
			l.next.Set(e)
		}
	}
	if direct {
		l.sum.Count(id, 1, b2u(!ok))
	}
}

// take spends a token of s at now if it has one, counting the envelope
// (and its drop if not) in the Limiter and in the row; l.mu is held. It
// reports whether the envelope passes, and whether the Summary must be
// told of it directly (see WithSummary). Rows count even without a
// Summary (it costs less than asking); handRow hands over only to one.
func (l *Limiter) take(s *source, now int64) (ok, direct bool) {
	ok = s.allow(now)
	s.last = now
	if !ok {
		l.limited++
	}
	if s.long || l.detached {
		return ok, l.sum != nil
	}
	s.sent++
	if !ok {
		s.dropped++
	}
	return ok, false
}

func b2u(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}

// nowNs returns the time for the buckets: the coarse clock's, or
// WithClock's.
func (l *Limiter) nowNs() int64 {
	if l.clock != nil {
		return l.clock.Now()
	}
	return l.now()
}

// handOver adds the counts of every source to the Summary.
func (l *Limiter) handOver() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i := range l.srcs {
		l.handRow(&l.srcs[i])
	}
}

// handRow adds the counts of s to the Summary; l.mu is held.
func (l *Limiter) handRow(s *source) {
	if l.sum != nil && s.sent|s.dropped != 0 {
		l.sum.Count(s.key(), s.sent, s.dropped)
		s.sent, s.dropped = 0, 0
	}
}

// TryNext returns the wrapped buffer's next envelope.
func (l *Limiter) TryNext() ([]byte, bool) {
	switch {
	case l.ring != nil:
		return l.ring.TryNext()
	case l.fair != nil:
		return l.fair.TryNext()
	}
	return l.next.TryNext()
}

// Next returns the wrapped buffer's next envelope, waiting for one.
func (l *Limiter) Next(ctx context.Context) ([]byte, error) { return l.next.Next(ctx) }

// Stats returns the wrapped buffer's counters with the Limiter's: Written
// counts calls to Set and Dropped includes the rate-limited envelopes.
func (l *Limiter) Stats() diode.Stats {
	s := l.next.Stats() // first, so that Written >= Read + Dropped
	l.mu.Lock()
	defer l.mu.Unlock()
	s.Written = l.written
	s.Dropped += l.limited
	return s
}

// Counts is a snapshot of a Limiter's own counters.
type Counts struct {
	// RateLimited counts envelopes dropped with cause rate_limited.
	RateLimited uint64
	// Sources is the number of sources in the table.
	Sources int
	// Evicted counts idle sources whose place a new source took.
	Evicted uint64
	// Overflow counts envelopes of sources that found the table full of
	// active sources and shared its spare bucket.
	Overflow uint64
}

// Counts returns the Limiter's own counters.
func (l *Limiter) Counts() Counts {
	l.mu.Lock()
	defer l.mu.Unlock()
	return Counts{RateLimited: l.limited, Sources: len(l.srcs), Evicted: l.evicted, Overflow: l.overflows}
}

// Config returns the limits in force.
func (l *Limiter) Config() Config {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.cfg
}

// Reload replaces the limits. Sources keep their place in the table and
// what they have spent of their bucket; each takes its new limit at once.
// An invalid cfg is refused (the error wraps ErrInvalidConfig) and the old
// limits stay.
func (l *Limiter) Reload(cfg Config) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.cfg = cfg
	l.overflow.setLimit(cfg.Default)
	for i := 0; i < len(l.srcs); {
		s := &l.srcs[i]
		if s.long {
			// Its ID was cut to fit the table: drop the row and let the
			// next envelope look its limit up by the whole ID.
			l.remove(i)
			continue
		}
		s.setLimit(cfg.lookup(s.key()))
		i++
	}
	return nil
}

// ReloadFile reads the limits file at path (see ParseConfig) and applies
// it, as a program does on SIGHUP. On any error the old limits stay.
func (l *Limiter) ReloadFile(path string) error {
	cfg, err := ParseFile(path)
	if err == nil {
		err = l.Reload(cfg)
	}
	if err != nil {
		l.logger.Warn("limit: limits not reloaded, the old ones stay", "path", path, "err", err)
		return err
	}
	l.logger.Info("limit: limits reloaded", "path", path, "sources", len(cfg.Sources))
	return nil
}

// Close stops the clock goroutine and hands the per-source counts over to
// the Summary, if any. It is idempotent; Set keeps working afterwards with
// the clock read on every call, counting into the Summary directly.
func (l *Limiter) Close() error {
	if l.clock != nil {
		l.clock.stop()
		l.clock.asleep.Store(true) // every Set reads the system clock
	}
	if l.sum != nil {
		l.sum.detach(l)
		l.mu.Lock()
		for i := range l.srcs {
			l.handRow(&l.srcs[i])
		}
		l.detached = true
		l.mu.Unlock()
	}
	return nil
}

// source returns the row of source id, adding it if need be.
func (l *Limiter) source(h uint64, id string, now int64) *source {
	if i := l.tab.get(h); i >= 0 {
		return &l.srcs[i]
	}
	var i int
	switch {
	case len(l.srcs) < l.max:
		l.srcs = append(l.srcs, source{})
		i = len(l.srcs) - 1
	default:
		i = l.idleRow(now)
		if i < 0 {
			l.overflows++
			return &l.overflow
		}
		l.handRow(&l.srcs[i])
		l.tab.del(l.srcs[i].hash)
		l.evicted++
	}
	s := &l.srcs[i]
	*s = source{hash: h, last: now}
	n := copy(s.name[:], id)
	s.n, s.long = uint8(n), n < len(id)
	s.setLimit(l.cfg.lookup(id))
	l.tab.put(h, int32(i))
	return s
}

// idleRow moves the eviction hand over up to probe rows and returns the
// first one idle for the idle timeout, or -1.
func (l *Limiter) idleRow(now int64) int {
	for range l.probe {
		i := l.hand
		l.hand++
		if l.hand == len(l.srcs) {
			l.hand = 0
		}
		if now-l.srcs[i].last >= l.idle {
			return i
		}
	}
	return -1
}

// remove takes row i out of the table, moving the last row into its place.
func (l *Limiter) remove(i int) {
	l.handRow(&l.srcs[i])
	l.tab.del(l.srcs[i].hash)
	last := len(l.srcs) - 1
	if i != last {
		l.tab.del(l.srcs[last].hash)
		l.srcs[i] = l.srcs[last]
		l.tab.put(l.srcs[i].hash, int32(i))
	}
	l.srcs = l.srcs[:last]
	if l.hand >= len(l.srcs) {
		l.hand = 0
	}
}

func (s *source) setLimit(lim Limit) {
	if lim.Unlimited() {
		s.interval, s.tol = 0, 0
		return
	}
	burst := lim.Burst
	if burst == 0 {
		burst = max(1, int(math.Ceil(lim.Rate)))
	}
	s.interval = max(1, int64(math.Round(1e9/lim.Rate)))
	s.tol = int64(burst-1) * s.interval
}

// allow takes a token if there is one (GCRA: the bucket is full when tat
// <= now and empty when tat - now > tol).
func (s *source) allow(now int64) bool {
	if s.interval == 0 {
		return true
	}
	tat := max(s.tat, now)
	if tat-now > s.tol {
		return false
	}
	s.tat = tat + s.interval
	return true
}
