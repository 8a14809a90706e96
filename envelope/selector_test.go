package envelope_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sluicelog/sluice/envelope"
)

func logSel(src string) *envelope.Selector {
	return &envelope.Selector{SourceId: src, Message: &envelope.Selector_Log{Log: &envelope.LogSelector{}}}
}

func counterSel(src, name string) *envelope.Selector {
	return &envelope.Selector{SourceId: src, Message: &envelope.Selector_Counter{Counter: &envelope.CounterSelector{Name: name}}}
}

func gaugeSel(names ...string) *envelope.Selector {
	return &envelope.Selector{Message: &envelope.Selector_Gauge{Gauge: &envelope.GaugeSelector{Names: names}}}
}

func TestSelectorMatching(t *testing.T) {
	log := envelope.NewLog("app", []byte("x"))
	ctr := envelope.NewCounter("app", "requests", 1)
	gauge := envelope.NewGauge("app", []envelope.Metric{{Name: "cpu"}, {Name: "mem"}})
	timer := &envelope.Envelope{SourceId: "app", Message: &envelope.Envelope_Timer{Timer: &envelope.Timer{Name: "t"}}}
	event := envelope.NewEvent("app", "t", "b")
	tests := []struct {
		name string
		sel  *envelope.Selector
		env  *envelope.Envelope
		want bool
	}{
		{"log any source", logSel(""), log, true},
		{"log same source", logSel("app"), log, true},
		{"log other source", logSel("other"), log, false},
		{"log selector, counter", logSel(""), ctr, false},
		{"counter any name", counterSel("", ""), ctr, true},
		{"counter same name", counterSel("app", "requests"), ctr, true},
		{"counter other name", counterSel("", "errors"), ctr, false},
		{"counter selector, gauge", counterSel("", ""), gauge, false},
		{"gauge no names", gaugeSel(), gauge, true},
		{"gauge one name present", gaugeSel("cpu"), gauge, true},
		{"gauge all names present", gaugeSel("mem", "cpu"), gauge, true},
		{"gauge one name missing", gaugeSel("cpu", "disk"), gauge, false},
		{"gauge selector, log", gaugeSel(), log, false},
		{"timer", &envelope.Selector{Message: &envelope.Selector_Timer{Timer: &envelope.TimerSelector{}}}, timer, true},
		{"event", &envelope.Selector{Message: &envelope.Selector_Event{Event: &envelope.EventSelector{}}}, event, true},
		{"event selector, timer", &envelope.Selector{Message: &envelope.Selector_Event{Event: &envelope.EventSelector{}}}, timer, false},
		{"no message type", &envelope.Selector{SourceId: "app"}, log, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, tt.sel.Matches(tt.env), "decoded")
			r, err := envelope.ReadRoute(marshal(t, tt.env))
			require.NoError(t, err)
			assert.Equal(t, tt.want, tt.sel.MatchesRoute(&r), "wire bytes")
		})
	}
	assert.True(t, envelope.MatchAny([]*envelope.Selector{logSel("x"), counterSel("", "")}, ctr))
	assert.False(t, envelope.MatchAny([]*envelope.Selector{logSel("x")}, ctr))
}

func TestRequestSelectors(t *testing.T) {
	_, err := envelope.RequestSelectors(&envelope.EgressBatchRequest{})
	assert.ErrorIs(t, err, envelope.ErrNoSelectors)

	_, err = envelope.RequestSelectors(&envelope.EgressRequest{Selectors: []*envelope.Selector{logSel(""), {SourceId: "a"}}})
	assert.ErrorIs(t, err, envelope.ErrSelectorWithoutMessage)
	assert.Contains(t, err.Error(), "selector 1")

	_, err = envelope.RequestSelectors(&envelope.EgressRequest{LegacySelector: &envelope.Selector{SourceId: "a"}})
	assert.ErrorIs(t, err, envelope.ErrSelectorWithoutMessage)

	legacy := logSel("legacy")
	sels, err := envelope.RequestSelectors(&envelope.EgressRequest{LegacySelector: legacy})
	require.NoError(t, err)
	assert.Equal(t, []*envelope.Selector{legacy}, sels)

	// The legacy selector is ignored when selectors are given.
	modern := counterSel("", "")
	sels, err = envelope.RequestSelectors(&envelope.EgressBatchRequest{LegacySelector: legacy, Selectors: []*envelope.Selector{modern}})
	require.NoError(t, err)
	assert.Equal(t, []*envelope.Selector{modern}, sels)
}
