package telemetry

import (
	"sort"
	"strings"
)

// Kind is a metric's type.
type Kind uint8

const (
	// Counter is a running total that only grows (ingress, egress, dropped).
	Counter Kind = iota
	// Gauge is a value that goes up and down (subscriptions).
	Gauge
)

// Metric is one reading of a component's stats.
type Metric struct {
	// Name is the metric name operators query: ingress, egress, dropped,
	// subscriptions, rejected_streams, doppler_connections, slow_consumer...
	Name string
	Kind Kind
	// Value is the running total for a Counter and the current value for a
	// Gauge.
	Value float64
	// Unit is carried on gauge envelopes ("" for counts).
	Unit string
	// Tags qualify the metric: direction, shard_id, cause, component...
	Tags map[string]string
}

// key identifies a metric series: its name and tags.
func (m Metric) key() string {
	var b strings.Builder
	b.WriteString(m.Name)
	for _, k := range sortedKeys(m.Tags) {
		b.WriteByte(0)
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(m.Tags[k])
	}
	return b.String()
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Source reports a component's metrics; it appends them to dst.
type Source interface {
	Metrics(dst []Metric) []Metric
}

// SourceFunc adapts a function to Source.
type SourceFunc func(dst []Metric) []Metric

// Metrics calls f(dst).
func (f SourceFunc) Metrics(dst []Metric) []Metric { return f(dst) }

// WithTags returns a Source that adds tags (for example component=router)
// to every metric of s; a metric's own tags win.
func WithTags(s Source, tags map[string]string) Source {
	return SourceFunc(func(dst []Metric) []Metric {
		start := len(dst)
		dst = s.Metrics(dst)
		for i := start; i < len(dst); i++ {
			merged := make(map[string]string, len(tags)+len(dst[i].Tags))
			for k, v := range tags {
				merged[k] = v
			}
			for k, v := range dst[i].Tags {
				merged[k] = v
			}
			dst[i].Tags = merged
		}
		return dst
	})
}

// Sources combines several sources into one.
func Sources(srcs ...Source) Source {
	return SourceFunc(func(dst []Metric) []Metric {
		for _, s := range srcs {
			dst = s.Metrics(dst)
		}
		return dst
	})
}
