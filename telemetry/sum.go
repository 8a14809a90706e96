package telemetry

import (
	"slices"

	"github.com/sluicelog/sluice/stats"
)

// Sum returns a Reporter of a group of like components that come and go (a
// proxy's Firehose per subscriber, for example) reported as one: at each
// report it calls list and reports every series its reporters report, with
// the values of series of the same name and tags added up, in the order
// each series first appears. A component the group dropped takes its
// counts with it, so list should keep closed components for their final
// counts when counters must never go back.
func Sum(list func() []stats.Reporter) stats.Reporter {
	return stats.ReporterFunc(func(emit func(stats.Metric)) {
		var order []string
		sums := map[string]stats.Metric{}
		for _, r := range list() {
			r.Report(func(m stats.Metric) {
				k := seriesKey(m)
				if s, ok := sums[k]; ok {
					s.Value += m.Value
					sums[k] = s
					return
				}
				m.Tags = slices.Clone(m.Tags)
				sums[k] = m
				order = append(order, k)
			})
		}
		for _, k := range order {
			emit(sums[k])
		}
	})
}

// seriesKey identifies a Metric within one Reporter: kind, name and tags.
func seriesKey(m stats.Metric) string {
	tags := slices.Clone(m.Tags)
	sortTags(tags)
	return joinKey(m.Kind.String()+"\x00"+m.Name, tags)
}
