package stats_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/sluicelog/sluice/stats"
)

func TestReportDroppedEmitsCausesThatOccurredAndThoseAlwaysShown(t *testing.T) {
	var got []stats.Metric
	shard := stats.Tag{Key: stats.TagShardID, Value: "a"}
	stats.ReportDropped(func(m stats.Metric) { got = append(got, m) }, stats.DirectionEgress,
		stats.Drops{stats.CauseShutdown: 2, stats.CauseClosed: 0, stats.CauseMalformed: 1},
		[]string{stats.CauseOverflow, stats.CauseMalformed}, shard)
	tags := func(cause string) []stats.Tag {
		return []stats.Tag{{Key: "direction", Value: "egress"}, shard, {Key: "cause", Value: cause}}
	}
	assert.Equal(t, []stats.Metric{
		stats.CounterOf("dropped", stats.HelpDropped, 1, tags("malformed")...),
		stats.CounterOf("dropped", stats.HelpDropped, 0, tags("overflow")...),
		stats.CounterOf("dropped", stats.HelpDropped, 2, tags("shutdown")...),
	}, got)
}
