package telemetry

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/sluicelog/sluice/envelope"
)

// ErrNoSourceID is returned by NewEmitter without a source ID.
var ErrNoSourceID = errors.New("telemetry: source ID is required")

// Sink receives the wire bytes of each telemetry envelope; every
// diode.Buffer[[]byte] is one (its Set never blocks).
type Sink interface {
	Set(env []byte)
}

// EmitterOption configures an Emitter.
type EmitterOption interface{ apply(*emitterConfig) }

type emitterConfig struct {
	interval time.Duration
	tags     map[string]string
	logger   *slog.Logger
}

type emitterOptionFunc func(*emitterConfig)

func (f emitterOptionFunc) apply(c *emitterConfig) { f(c) }

// WithInterval sets how often Run emits (default 15 s, Loggregator's
// metric emitter interval).
func WithInterval(d time.Duration) EmitterOption {
	return emitterOptionFunc(func(c *emitterConfig) {
		if d > 0 {
			c.interval = d
		}
	})
}

// WithEnvelopeTags adds tags to every envelope emitted (deployment, job,
// index...).
func WithEnvelopeTags(tags map[string]string) EmitterOption {
	return emitterOptionFunc(func(c *emitterConfig) {
		for k, v := range tags {
			c.tags[k] = v
		}
	})
}

// WithLogger sets the logger for marshal failures (default: discard).
func WithLogger(l *slog.Logger) EmitterOption {
	return emitterOptionFunc(func(c *emitterConfig) {
		if l != nil {
			c.logger = l
		}
	})
}

// Emitter turns a Source's metrics into Loggregator-style envelopes:
// counters as Counter envelopes (delta since the last emission and the
// running total), gauges as Gauge envelopes, all with the source ID the user
// sets, so the firehose carries its own health as Loggregator does.
type Emitter struct {
	sourceID string
	src      Source
	sink     Sink
	cfg      emitterConfig

	mu      sync.Mutex
	last    map[string]float64
	scratch []Metric
	emitted uint64
	failed  uint64
}

// NewEmitter returns an Emitter of src's metrics into sink.
func NewEmitter(sourceID string, src Source, sink Sink, opts ...EmitterOption) (*Emitter, error) {
	if sourceID == "" {
		return nil, ErrNoSourceID
	}
	if src == nil || sink == nil {
		return nil, errors.New("telemetry: source and sink are required")
	}
	cfg := emitterConfig{interval: 15 * time.Second, tags: map[string]string{}, logger: slog.New(slog.DiscardHandler)}
	for _, o := range opts {
		o.apply(&cfg)
	}
	return &Emitter{sourceID: sourceID, src: src, sink: sink, cfg: cfg, last: map[string]float64{}}, nil
}

// Run emits every interval until ctx ends, then emits once more so the
// final totals are carried, and returns ctx's error.
func (e *Emitter) Run(ctx context.Context) error {
	t := time.NewTicker(e.cfg.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			e.Emit()
			return ctx.Err()
		case <-t.C:
			e.Emit()
		}
	}
}

// Emitted is how many envelopes the Emitter has written to its sink.
func (e *Emitter) Emitted() uint64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.emitted
}

// Failed is how many envelopes the Emitter could not marshal and so never
// wrote (a metric whose tags are not valid UTF-8, for example).
func (e *Emitter) Failed() uint64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.failed
}

// Emit reads the source now and emits one envelope per metric series. It
// returns how many envelopes it emitted.
func (e *Emitter) Emit() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.scratch = e.src.Metrics(e.scratch[:0])
	now := time.Now()
	n := 0
	for _, m := range e.scratch {
		env := e.envelope(m, now)
		b, err := proto.Marshal(env)
		if err != nil {
			// For example a tag value that is not valid UTF-8: the
			// envelope is lost, and counted.
			e.failed++
			e.cfg.logger.Warn("telemetry: marshal failed", "metric", m.Name, "err", err)
			continue
		}
		e.sink.Set(b)
		n++
	}
	e.emitted += uint64(n)
	return n
}

func (e *Emitter) envelope(m Metric, now time.Time) *envelope.Envelope {
	opts := []envelope.Option{envelope.WithTimestamp(now), envelope.WithTags(e.cfg.tags), envelope.WithTags(m.Tags)}
	if m.Kind == Gauge {
		return envelope.NewGauge(e.sourceID, []envelope.Metric{{Name: m.Name, Value: m.Value, Unit: m.Unit}}, opts...)
	}
	key := m.key()
	total := toUint(m.Value)
	prev := toUint(e.last[key])
	e.last[key] = m.Value
	delta := uint64(0)
	if total >= prev {
		delta = total - prev
	} else {
		delta = total // the component restarted: its total began again
	}
	return envelope.NewCounter(e.sourceID, m.Name, delta, append(opts, envelope.WithTotal(total))...)
}

func toUint(v float64) uint64 {
	if v <= 0 || math.IsNaN(v) {
		return 0
	}
	if v >= math.MaxUint64 {
		return math.MaxUint64
	}
	return uint64(v)
}
