package stats_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/sluicelog/sluice/stats"
)

func TestDrops(t *testing.T) {
	var none stats.Drops
	assert.Zero(t, none.Total())
	assert.Empty(t, none.Causes())
	assert.Nil(t, none.Clone())

	d := stats.Drops{"overflow": 3, "shutdown": 0, "closed": 2}
	assert.Equal(t, uint64(5), d.Total())
	assert.Equal(t, []string{"closed", "overflow"}, d.Causes())
	c := d.Clone()
	c["overflow"]++
	assert.Equal(t, uint64(3), d["overflow"], "a clone shares nothing")
}

func TestDropsAdd(t *testing.T) {
	var d stats.Drops
	d.Add("overflow", 0)
	assert.Nil(t, d, "adding zero makes no map")
	d.Add("overflow", 2)
	d.Add("overflow", 3)
	d.Add("closed", 0)
	assert.Equal(t, stats.Drops{"overflow": 5}, d)
}

func TestReportDrops(t *testing.T) {
	var got []stats.Metric
	stats.ReportDrops(func(m stats.Metric) { got = append(got, m) }, "dropped", "h",
		stats.Drops{"overflow": 3, "closed": 2, "shutdown": 0}, stats.Tag{"direction", "egress"})
	assert.Equal(t, []stats.Metric{
		{Name: "dropped", Kind: stats.Counter, Help: "h", Tags: []stats.Tag{{"direction", "egress"}, {"cause", "closed"}}, Value: 2},
		{Name: "dropped", Kind: stats.Counter, Help: "h", Tags: []stats.Tag{{"direction", "egress"}, {"cause", "overflow"}}, Value: 3},
	}, got)
}

// A component reports its counters under Loggregator's names; a telemetry
// adapter turns them into series.
func ExampleReporterFunc() {
	r := stats.ReporterFunc(func(emit func(stats.Metric)) {
		emit(stats.Metric{Name: "ingress", Kind: stats.Counter, Help: "Envelopes received.", Value: 10})
		stats.ReportDrops(emit, "dropped", "Envelopes dropped.", stats.Drops{"overflow": 2}, stats.Tag{"direction", "ingress"})
	})
	r.Report(func(m stats.Metric) { fmt.Println(m.Name, m.Kind, m.Tags, m.Value) })
	// Output:
	// ingress counter [] 10
	// dropped counter [{direction ingress} {cause overflow}] 2
}
