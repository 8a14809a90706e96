package telemetry

import (
	"context"
	"fmt"
	"math"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/sluicelog/sluice/envelope"
	"github.com/sluicelog/sluice/stats"
)

// Sink receives the wire bytes of each telemetry envelope. Every
// diode.Buffer[[]byte] is one (its Set never blocks); for an
// ingress.Client, pass SinkFunc(client.EmitBytes).
type Sink interface {
	Set(env []byte)
}

// SinkFunc adapts a function to Sink.
type SinkFunc func(env []byte)

// Set calls f(env).
func (f SinkFunc) Set(env []byte) { f(env) }

// EmitterStats is a snapshot of an Emitter's counters.
type EmitterStats struct {
	// Emitted counts envelopes written to the sink.
	Emitted uint64
	// Dropped counts series not emitted, by reason: ReasonDuplicate,
	// ReasonTypeConflict, or ReasonInvalid for an envelope that could not
	// be marshaled (a tag that is not UTF-8).
	Dropped stats.Drops
}

// Emitter turns named Reporters' metrics into Loggregator-style envelopes,
// as Loggregator's own components report their health into the firehose:
// each counter becomes a Counter envelope with its running total and the
// delta since the previous emission of that series, each gauge a Gauge
// envelope, all with the source ID given and the tags of the series (the
// component tag, the WithLabels tags, the metric's tags).
//
// A series is keyed by (component, name, tags). Its delta is its total
// minus the total emitted before, 0 while it is idle; a total that went
// down means the component started again from 0, so the delta is the new
// total. The first emission of a series carries its whole total.
type Emitter struct {
	sourceID string
	sink     Sink
	walk     *walk
	interval time.Duration

	mu      sync.Mutex
	last    map[string]uint64 // total emitted per counter series key
	emitted uint64
	dropped stats.Drops
}

// NewEmitter returns an Emitter of cs into sink, stamped with sourceID
// (Loggregator's routers use "doppler", so that
// rate(ingress{source_id="doppler"}[5m]) finds them). An empty source ID,
// a nil sink, or components NewCollector would refuse give an error wrapping
// ErrInvalidConfig.
func NewEmitter(sourceID string, sink Sink, cs []Component, opts ...EmitterOption) (*Emitter, error) {
	if sourceID == "" || sink == nil {
		return nil, fmt.Errorf("%w: a source ID and a sink are required", ErrInvalidConfig)
	}
	cfg := defaults()
	for _, o := range opts {
		if o != nil {
			o.applyEmitter(&cfg)
		}
	}
	w, err := newWalk(cs, cfg, identity)
	if err != nil {
		return nil, err
	}
	return &Emitter{sourceID: sourceID, sink: sink, walk: w, interval: cfg.interval, last: map[string]uint64{}}, nil
}

// Run emits every interval until ctx ends, then emits once more so the
// final totals are carried, and returns ctx's error.
func (e *Emitter) Run(ctx context.Context) error {
	t := time.NewTicker(e.interval)
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

// Stats returns a snapshot of the Emitter's counters.
func (e *Emitter) Stats() EmitterStats {
	e.mu.Lock()
	defer e.mu.Unlock()
	return EmitterStats{Emitted: e.emitted, Dropped: e.dropped.Clone()}
}

// Emit reads every component now and writes one envelope per series to
// the sink. It returns how many it wrote.
func (e *Emitter) Emit() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	now := time.Now()
	n := 0
	dropped := e.walk.run(func(s series) (bool, string) {
		b, err := proto.Marshal(e.envelope(s, now))
		if err != nil {
			return false, ReasonInvalid
		}
		if s.metric.Kind == stats.Counter {
			e.last[s.key] = toUint(s.metric.Value)
		}
		e.sink.Set(b)
		n++
		return true, ""
	})
	for reason, k := range dropped {
		if e.dropped == nil {
			e.dropped = stats.Drops{}
		}
		e.dropped[reason] += k
	}
	e.emitted += uint64(n)
	return n
}

func (e *Emitter) envelope(s series, now time.Time) *envelope.Envelope {
	tags := make(map[string]string, len(s.labels))
	for _, t := range s.labels {
		tags[t.Key] = t.Value
	}
	opts := []envelope.Option{envelope.WithTimestamp(now), envelope.WithTags(tags)}
	if s.metric.Kind == stats.Gauge {
		return envelope.NewGauge(e.sourceID, []envelope.Metric{{Name: s.metric.Name, Value: s.metric.Value}}, opts...)
	}
	total := toUint(s.metric.Value)
	delta := total // first emission, or the component restarted from 0
	if prev, ok := e.last[s.key]; ok && total >= prev {
		delta = total - prev
	}
	return envelope.NewCounter(e.sourceID, s.metric.Name, delta, append(opts, envelope.WithTotal(total))...)
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
