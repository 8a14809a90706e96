package otlp_test

import (
	"fmt"
	"time"

	"github.com/sluicelog/sluice/envelope"
	"github.com/sluicelog/sluice/otlp"
)

// A counter becomes a monotonic cumulative sum of its total, in a
// resource named after the source.
func ExampleBatch_Add() {
	b := otlp.NewBatch()
	b.Add(envelope.NewCounter("app", "requests", 1, envelope.WithTotal(99), envelope.WithInstanceID("2"),
		envelope.WithTag("route", "/checkout"), envelope.WithTimestamp(time.Unix(1714564800, 0))))
	rm := b.Metrics.ResourceMetrics().At(0)
	m := rm.ScopeMetrics().At(0).Metrics().At(0)
	p := m.Sum().DataPoints().At(0)
	fmt.Println(rm.Resource().Attributes().AsRaw())
	fmt.Println(m.Name(), m.Type(), m.Sum().IsMonotonic(), m.Sum().AggregationTemporality(), p.IntValue(), p.Attributes().AsRaw(), p.Timestamp().AsTime().UTC())
	// Output:
	// map[service.instance.id:2 service.name:app]
	// requests Sum true Cumulative 99 map[route:/checkout] 2024-05-01 12:00:00 +0000 UTC
}
