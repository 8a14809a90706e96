package envelope_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/sluicelog/sluice/envelope"
)

func TestConstructors(t *testing.T) {
	before := time.Now().UnixNano()
	e := envelope.NewLog("src", []byte("p"), envelope.WithInstanceID("3"),
		envelope.WithTags(map[string]string{"a": "1"}), envelope.WithTag("b", "2"), envelope.WithLogType(envelope.Log_ERR))
	assert.GreaterOrEqual(t, e.GetTimestamp(), before)
	assert.LessOrEqual(t, e.GetTimestamp(), time.Now().UnixNano())
	assert.Equal(t, "src", e.SourceID())
	assert.Equal(t, "3", e.GetInstanceId())
	assert.Equal(t, map[string]string{"a": "1", "b": "2"}, e.GetTags())
	assert.Equal(t, envelope.Log_ERR, e.GetLog().GetType())
	assert.Equal(t, envelope.KindLog, e.Kind())

	ts := time.Unix(5, 6)
	c := envelope.NewCounter("src", "n", 2, envelope.WithTotal(10), envelope.WithTimestamp(ts), envelope.WithLogType(envelope.Log_ERR))
	assert.Equal(t, ts.UnixNano(), c.GetTimestamp())
	assert.Equal(t, uint64(2), c.GetCounter().GetDelta())
	assert.Equal(t, uint64(10), c.GetCounter().GetTotal())
	assert.Equal(t, envelope.KindCounter, c.Kind())

	g := envelope.NewGauge("src", []envelope.Metric{{Name: "cpu", Value: 0.5, Unit: "%"}, {Name: "cpu", Value: 0.7, Unit: "%"}})
	assert.Len(t, g.GetGauge().GetMetrics(), 1)
	assert.Equal(t, 0.7, g.GetGauge().GetMetrics()["cpu"].GetValue())
	assert.Equal(t, envelope.KindGauge, g.Kind())

	tm := envelope.NewTimer("src", "req", time.Unix(1, 0), time.Unix(2, 0))
	assert.Equal(t, int64(1e9), tm.GetTimer().GetStart())
	assert.Equal(t, int64(2e9), tm.GetTimer().GetStop())
	assert.Equal(t, envelope.KindTimer, tm.Kind())

	ev := envelope.NewEvent("src", "title", "body")
	assert.Equal(t, "title", ev.GetEvent().GetTitle())
	assert.Equal(t, envelope.KindEvent, ev.Kind())

	var nilEnv *envelope.Envelope
	assert.Equal(t, envelope.KindUnknown, nilEnv.Kind())
	assert.Equal(t, "", nilEnv.SourceID())
	assert.Equal(t, "gauge", envelope.KindGauge.String())
	assert.Equal(t, "unknown", envelope.Kind(200).String())
}
