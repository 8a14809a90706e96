package telemetry_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/sluicelog/sluice/stats"
	"github.com/sluicelog/sluice/telemetry"
)

func TestSumAddsUpLikeSeries(t *testing.T) {
	a := reporter(
		stats.CounterOf(stats.Ingress, "", 3, tag("shard_id", "s"), tag("x", "1")),
		stats.GaugeOf(stats.DopplerConnections, "", 2),
	)
	b := reporter(
		stats.CounterOf(stats.Ingress, "", 4, tag("x", "1"), tag("shard_id", "s")), // same tags, other order
		stats.CounterOf(stats.Ingress, "", 5, tag("shard_id", "t")),
		stats.GaugeOf(stats.DopplerConnections, "", 1),
	)
	var got []stats.Metric
	telemetry.Sum(func() []stats.Reporter { return []stats.Reporter{a, b} }).Report(func(m stats.Metric) { got = append(got, m) })
	assert.Equal(t, []stats.Metric{
		stats.CounterOf(stats.Ingress, "", 7, tag("shard_id", "s"), tag("x", "1")),
		stats.GaugeOf(stats.DopplerConnections, "", 3),
		stats.CounterOf(stats.Ingress, "", 5, tag("shard_id", "t")),
	}, got)
}
