package telemetry_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/sluicelog/sluice/diode"
	"github.com/sluicelog/sluice/envelope"
	"github.com/sluicelog/sluice/stats"
	"github.com/sluicelog/sluice/telemetry"
)

// counters is a component whose counters a test sets.
type counters struct{ ingress, dropped, subs atomic.Int64 }

func (c *counters) Report(emit func(stats.Metric)) {
	emit(stats.CounterOf(stats.Ingress, stats.HelpIngress, uint64(c.ingress.Load())))
	emit(stats.CounterOf(stats.Dropped, stats.HelpDropped, uint64(c.dropped.Load()), tag("direction", "ingress")))
	emit(stats.GaugeOf(stats.Subscriptions, stats.HelpSubscriptions, float64(c.subs.Load())))
}

func drain(t *testing.T, buf diode.Buffer[[]byte]) []*envelope.Envelope {
	t.Helper()
	var out []*envelope.Envelope
	for {
		b, ok := buf.TryNext()
		if !ok {
			return out
		}
		var e envelope.Envelope
		require.NoError(t, proto.Unmarshal(b, &e))
		out = append(out, &e)
	}
}

// line renders an envelope as "component name delta/total" or
// "component name =value" for a gauge.
func line(e *envelope.Envelope) string {
	if c := e.GetCounter(); c != nil {
		return fmt.Sprintf("%s %s %d/%d", e.GetTags()["component"], c.GetName(), c.GetDelta(), c.GetTotal())
	}
	for name, v := range e.GetGauge().GetMetrics() {
		return fmt.Sprintf("%s %s =%g", e.GetTags()["component"], name, v.GetValue())
	}
	return "?"
}

func lines(t *testing.T, buf diode.Buffer[[]byte]) []string {
	t.Helper()
	var out []string
	for _, e := range drain(t, buf) {
		out = append(out, line(e))
	}
	return out
}

func TestEmitterDeltaIsTotalMinusPreviousTotal(t *testing.T) {
	c := &counters{}
	buf, err := diode.NewOneToOne[[]byte](100)
	require.NoError(t, err)
	em, err := telemetry.NewEmitter("doppler", buf, []telemetry.Component{{Name: "router", Reporter: c}})
	require.NoError(t, err)

	steps := []struct {
		name    string
		ingress int64
		want    string
	}{
		{"first emission carries the whole total", 7, "router ingress 7/7"},
		{"idle", 7, "router ingress 0/7"},
		{"idle again", 7, "router ingress 0/7"},
		{"grows", 10, "router ingress 3/10"},
		{"restarted: the new total is the delta", 4, "router ingress 4/4"},
		{"grows after the restart", 6, "router ingress 2/6"},
		{"restarted to zero", 0, "router ingress 0/0"},
	}
	for _, s := range steps {
		c.ingress.Store(s.ingress)
		require.Equal(t, 3, em.Emit(), s.name)
		got := lines(t, buf)
		require.Len(t, got, 3, s.name)
		assert.Equal(t, s.want, got[0], s.name)
	}
	assert.Equal(t, telemetry.EmitterStats{Emitted: 21}, em.Stats())
}

// Two components with identical keys but for the component: each series
// keeps its own previous total (the old Emitter mixed them, and three idle
// emissions each reported ingress delta=7).
func TestEmitterKeepsComponentsWithIdenticalKeysApart(t *testing.T) {
	srv, rt := &counters{}, &counters{}
	srv.ingress.Store(7)
	rt.ingress.Store(5)
	buf, err := diode.NewOneToOne[[]byte](100)
	require.NoError(t, err)
	em, err := telemetry.NewEmitter("doppler", buf, []telemetry.Component{
		{Name: "ingress_server", Reporter: srv},
		{Name: "router", Reporter: rt},
	})
	require.NoError(t, err)
	em.Emit()
	assert.Equal(t, []string{
		"ingress_server ingress 7/7", "ingress_server dropped 0/0", "ingress_server subscriptions =0",
		"router ingress 5/5", "router dropped 0/0", "router subscriptions =0",
	}, lines(t, buf))
	for range 3 {
		em.Emit()
		assert.Equal(t, []string{
			"ingress_server ingress 0/7", "ingress_server dropped 0/0", "ingress_server subscriptions =0",
			"router ingress 0/5", "router dropped 0/0", "router subscriptions =0",
		}, lines(t, buf))
	}
}

func TestEmitterEnvelopes(t *testing.T) {
	c := &counters{}
	c.ingress.Store(10)
	c.dropped.Store(2)
	c.subs.Store(3)
	buf, err := diode.NewOneToOne[[]byte](100)
	require.NoError(t, err)
	em, err := telemetry.NewEmitter("doppler", buf, []telemetry.Component{{Name: "router", Reporter: c}},
		telemetry.WithLabels(map[string]string{"deployment": "cf", "direction": "shadowed"}))
	require.NoError(t, err)
	before := time.Now()
	require.Equal(t, 3, em.Emit())
	envs := drain(t, buf)
	require.Len(t, envs, 3)
	for _, e := range envs {
		assert.Equal(t, "doppler", e.GetSourceId())
		assert.GreaterOrEqual(t, e.GetTimestamp(), before.UnixNano())
	}
	assert.Equal(t, map[string]string{"component": "router", "deployment": "cf", "direction": "shadowed"}, envs[0].GetTags())
	assert.Equal(t, uint64(10), envs[0].GetCounter().GetDelta())
	assert.Equal(t, map[string]string{"component": "router", "deployment": "cf", "direction": "shadowed", "exported_direction": "ingress"}, envs[1].GetTags(),
		"a metric tag that a label already names is renamed as Prometheus renames it")
	assert.Equal(t, 3.0, envs[2].GetGauge().GetMetrics()["subscriptions"].GetValue())
}

func TestEmitterCountsSeriesItLeavesOut(t *testing.T) {
	buf, err := diode.NewOneToOne[[]byte](10)
	require.NoError(t, err)
	em, err := telemetry.NewEmitter("doppler", buf, []telemetry.Component{{Name: "bad", Reporter: reporter(
		stats.CounterOf("ingress", "", 1),
		stats.CounterOf("ingress", "", 2),                      // duplicate
		stats.CounterOf("ingress", "", 2, tag("zone", "\xff")), // cannot be marshaled
		stats.GaugeOf("ingress", "", 2, tag("zone", "z1")),     // type conflict
	)}})
	require.NoError(t, err)
	assert.Equal(t, 1, em.Emit())
	assert.Equal(t, telemetry.EmitterStats{Emitted: 1, Dropped: stats.Drops{
		telemetry.ReasonDuplicate: 1, telemetry.ReasonInvalid: 1, telemetry.ReasonTypeConflict: 1,
	}}, em.Stats())
	assert.Equal(t, []string{"bad ingress 1/1"}, lines(t, buf))
}

func TestEmitterRunEmitsOnIntervalAndAtEnd(t *testing.T) {
	buf, err := diode.NewOneToOne[[]byte](1000)
	require.NoError(t, err)
	em, err := telemetry.NewEmitter("agent", buf, []telemetry.Component{{Name: "agent", Reporter: &counters{}}},
		telemetry.WithInterval(10*time.Millisecond))
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- em.Run(ctx) }()
	require.Eventually(t, func() bool { return buf.Stats().Written >= 6 }, 10*time.Second, 5*time.Millisecond)
	cancel()
	require.ErrorIs(t, <-done, context.Canceled)
	w := buf.Stats().Written
	assert.Zero(t, w%3, "every emission carries all three series")
	assert.Equal(t, w, em.Stats().Emitted)
}

func TestNewEmitterRefusesBadConfig(t *testing.T) {
	buf := diode.Discard[[]byte]()
	ok := []telemetry.Component{{Name: "a", Reporter: &counters{}}}
	_, err := telemetry.NewEmitter("", buf, ok)
	assert.ErrorIs(t, err, telemetry.ErrInvalidConfig)
	_, err = telemetry.NewEmitter("doppler", nil, ok)
	assert.ErrorIs(t, err, telemetry.ErrInvalidConfig)
	_, err = telemetry.NewEmitter("doppler", buf, append(ok, ok...))
	assert.ErrorIs(t, err, telemetry.ErrInvalidConfig)
	_, err = telemetry.NewEmitter("doppler", buf, ok, nil)
	assert.NoError(t, err)
}
