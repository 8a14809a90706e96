package telemetry_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sluicelog/sluice/stats"
	"github.com/sluicelog/sluice/telemetry"
)

// reporter reports the metrics it holds, as a component would.
func reporter(ms ...stats.Metric) stats.Reporter {
	return stats.ReporterFunc(func(emit func(stats.Metric)) {
		for _, m := range ms {
			emit(m)
		}
	})
}

func tag(k, v string) stats.Tag { return stats.Tag{Key: k, Value: v} }

func register(t *testing.T, cs []telemetry.Component, opts ...telemetry.CollectorOption) *prometheus.Registry {
	t.Helper()
	c, err := telemetry.NewCollector(cs, opts...)
	require.NoError(t, err)
	reg := prometheus.NewRegistry()
	require.NoError(t, reg.Register(c))
	return reg
}

// droppedSeries is the exposition of the collector's own gauge.
func droppedSeries(duplicate, invalid, typeConflict int) string {
	return fmt.Sprintf(`# HELP sluice_telemetry_dropped_series Series the telemetry collector left out of this collection, by reason: duplicate, type_conflict, invalid.
# TYPE sluice_telemetry_dropped_series gauge
sluice_telemetry_dropped_series{reason="duplicate"} %d
sluice_telemetry_dropped_series{reason="invalid"} %d
sluice_telemetry_dropped_series{reason="type_conflict"} %d
`, duplicate, invalid, typeConflict)
}

var noneDropped = droppedSeries(0, 0, 0)

// The demo's router counts ingress in its ingress server and in its router
// under the same name and tags: the component label keeps them two series.
func TestCollectorKeepsIdenticalKeysOfTwoComponentsApart(t *testing.T) {
	reg := register(t, []telemetry.Component{
		{Name: "ingress_server", Reporter: reporter(
			stats.CounterOf(stats.Ingress, stats.HelpIngress, 7),
			stats.CounterOf(stats.Dropped, stats.HelpDropped, 2, tag("direction", "ingress"), tag("cause", "overflow")),
		)},
		{Name: "router", Reporter: reporter(
			stats.CounterOf(stats.Ingress, stats.HelpIngress, 5),
			stats.GaugeOf(stats.Subscriptions, stats.HelpSubscriptions, 3),
			stats.CounterOf(stats.Dropped, stats.HelpDropped, 1, tag("direction", "egress"), tag("shard_id", "a"), tag("cause", "overflow")),
		)},
	}, telemetry.WithLabels(map[string]string{"source_id": "doppler"}))

	assert.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(`# HELP dropped Envelopes the component lost, by direction and cause (and shard_id where known).
# TYPE dropped counter
dropped{cause="overflow",component="ingress_server",direction="ingress",source_id="doppler"} 2
dropped{cause="overflow",component="router",direction="egress",shard_id="a",source_id="doppler"} 1
# HELP ingress Envelopes the component took in.
# TYPE ingress counter
ingress{component="ingress_server",source_id="doppler"} 7
ingress{component="router",source_id="doppler"} 5
# HELP subscriptions Subscriptions open now.
# TYPE subscriptions gauge
subscriptions{component="router",source_id="doppler"} 3
`+noneDropped)))
}

func TestCollectorLeavesDuplicatesOutAndCountsThem(t *testing.T) {
	reg := register(t, []telemetry.Component{
		// A Reporter that breaks its contract, and two tag names that
		// become the same label name.
		{Name: "bad", Reporter: reporter(
			stats.CounterOf("x", "X.", 1),
			stats.CounterOf("x", "X.", 2),
			stats.CounterOf("y", "Y.", 3, tag("a:b", "v")),
			stats.CounterOf("y", "Y.", 4, tag("a.b", "v")),
		)},
		// The same name with the other kind in another component.
		{Name: "other", Reporter: reporter(stats.GaugeOf("x", "X.", 9))},
	})
	assert.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(`# HELP x X.
# TYPE x counter
x{component="bad"} 1
# HELP y Y.
# TYPE y counter
y{a_b="v",component="bad"} 3
`+droppedSeries(2, 0, 1))))
}

func TestCollectorSanitizesNamesAndRenamesTakenLabels(t *testing.T) {
	reg := register(t, []telemetry.Component{
		{Name: "router", Reporter: reporter(
			stats.CounterOf("envelopes:total", "Help.", 1,
				tag("k8s:pod", "p"), tag("1zone", "z1"), tag("__name__", "n"),
				tag("component", "mine"), tag("job", "j"), tag("emoji", "\u2603")),
			stats.GaugeOf("bad", "", 1, tag("k", "\xff")),
		)},
	}, telemetry.WithLabels(map[string]string{"job": "router"}))
	assert.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(`# HELP envelopes_total Help.
# TYPE envelopes_total counter
envelopes_total{_1zone="z1",_name__="n",component="router",emoji="☃",exported_component="mine",exported_job="j",job="router",k8s_pod="p"} 1
`+droppedSeries(0, 1, 0))))
}

func TestCollectorGivesEveryFamilyHelp(t *testing.T) {
	reg := register(t, []telemetry.Component{
		{Name: "a", Reporter: reporter(stats.CounterOf("first", "", 1), stats.CounterOf(stats.Egress, "From a.", 1))},
		{Name: "b", Reporter: reporter(stats.CounterOf(stats.Egress, "From b.", 2))},
	})
	mfs, err := reg.Gather()
	require.NoError(t, err)
	help := map[string]string{}
	for _, mf := range mfs {
		help[mf.GetName()] = mf.GetHelp()
	}
	assert.Equal(t, map[string]string{
		"first":                           "first, as reported by sluice components.",
		"egress":                          "From a.", // the first series' help holds for the family
		"sluice_telemetry_dropped_series": "Series the telemetry collector left out of this collection, by reason: duplicate, type_conflict, invalid.",
	}, help)
}

func TestCollectorServedByPromhttp(t *testing.T) {
	reg := register(t, []telemetry.Component{{Name: "router", Reporter: reporter(stats.CounterOf(stats.Ingress, stats.HelpIngress, 42))}})
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, resp.Body.Close())
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, string(body), "# HELP ingress Envelopes the component took in.\n# TYPE ingress counter\ningress{component=\"router\"} 42\n")
}

func TestNewCollectorRefusesBadComponents(t *testing.T) {
	r := reporter()
	tests := []struct {
		name string
		cs   []telemetry.Component
		opts []telemetry.CollectorOption
	}{
		{"no name", []telemetry.Component{{Reporter: r}}, nil},
		{"no reporter", []telemetry.Component{{Name: "a"}}, nil},
		{"name twice", []telemetry.Component{{Name: "a", Reporter: r}, {Name: "a", Reporter: r}}, nil},
		{"component label", []telemetry.Component{{Name: "a", Reporter: r}}, []telemetry.CollectorOption{telemetry.WithLabels(map[string]string{"component": "x"})}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := telemetry.NewCollector(tt.cs, tt.opts...)
			assert.ErrorIs(t, err, telemetry.ErrInvalidConfig)
		})
	}
	_, err := telemetry.NewCollector(nil, nil, telemetry.WithLogger(nil))
	assert.NoError(t, err, "nil options are skipped")
}
