package telemetry

import (
	"fmt"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluicelog/sluice/stats"
)

// DroppedSeries is the gauge a Collector adds to every collection: how many
// series it left out of that collection, by reason (label reason: duplicate,
// type_conflict, invalid). Anything above 0 is a bug in a Reporter or in the
// names given, and is logged too.
const DroppedSeries = "sluice_telemetry_dropped_series"

const helpDroppedSeries = "Series the telemetry collector left out of this collection, by reason: duplicate, type_conflict, invalid."

var collectorReasons = []string{ReasonDuplicate, ReasonTypeConflict, ReasonInvalid}

// Collector is a prometheus.Collector of named Reporters: users register it
// in their own prometheus.Registry and serve that registry (promhttp).
// Every series carries the component label with its Component's name, the
// labels given with WithLabels and the metric's own tags; names are made
// valid Prometheus names (see NewCollector); each name has the help text
// and Kind its first series has (a Counter becomes a Prometheus counter, a
// Gauge a gauge). A collection never holds two series with the same name
// and labels: a later one is left out, counted in DroppedSeries and logged.
//
// It is an unchecked collector: the series depend on what the components
// hold when scraped (one per shard ID, per cause...), so Describe describes
// none of them.
type Collector struct {
	walk *walk
}

var _ prometheus.Collector = (*Collector)(nil)

// NewCollector returns a Collector of cs. Each component needs a Reporter
// and a name unique among cs; otherwise, or for a label named component, it
// returns an error wrapping ErrInvalidConfig.
//
// Metric and label names are mapped onto [a-zA-Z_][a-zA-Z0-9_]*: any other
// byte, the colon included, becomes '_'; a name starting with a digit gets a
// leading '_'; a leading "__" is cut to "_". Label values are kept; a series
// whose value is not UTF-8 is left out (reason invalid).
func NewCollector(cs []Component, opts ...CollectorOption) (*Collector, error) {
	cfg := defaults()
	for _, o := range opts {
		if o != nil {
			o.applyCollector(&cfg)
		}
	}
	w, err := newWalk(cs, cfg, promName)
	if err != nil {
		return nil, err
	}
	w.reserved = map[string]stats.Kind{DroppedSeries: stats.Gauge}
	return &Collector{walk: w}, nil
}

// Describe describes nothing: a Collector is unchecked (see Collector).
func (c *Collector) Describe(chan<- *prometheus.Desc) {}

// Collect reads every component and sends its series to ch.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	help := map[string]string{}
	dropped := c.walk.run(func(s series) (bool, string) {
		h, ok := help[s.metric.Name]
		if !ok {
			h = s.metric.Help
			if h == "" {
				h = fmt.Sprintf("%s, as reported by sluice components.", s.metric.Name)
			}
		}
		names := make([]string, len(s.labels))
		values := make([]string, len(s.labels))
		for i, t := range s.labels {
			if !utf8.ValidString(t.Value) {
				return false, ReasonInvalid
			}
			names[i], values[i] = t.Key, t.Value
		}
		vt := prometheus.CounterValue
		if s.metric.Kind == stats.Gauge {
			vt = prometheus.GaugeValue
		}
		m, err := prometheus.NewConstMetric(prometheus.NewDesc(s.metric.Name, h, names, nil), vt, s.metric.Value, values...)
		if err != nil {
			return false, ReasonInvalid
		}
		help[s.metric.Name] = h
		ch <- m
		return true, ""
	})
	for _, reason := range collectorReasons {
		ch <- prometheus.MustNewConstMetric(
			prometheus.NewDesc(DroppedSeries, helpDroppedSeries, []string{"reason"}, nil),
			prometheus.GaugeValue, float64(dropped[reason]), reason)
	}
}
