package otlp_test

import (
	"context"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"google.golang.org/protobuf/proto"

	"github.com/sluicelog/sluice/envelope"
	"github.com/sluicelog/sluice/otlp"
	"github.com/sluicelog/sluice/otlp/internal/collectortest"
)

// collector runs the OpenTelemetry Collector's own OTLP receiver on a
// loopback port, feeding sinks.
func collector(t *testing.T) (addr string, logs *consumertest.LogsSink, metrics *consumertest.MetricsSink) {
	return collectortest.Start(t)
}

func attrs(m pcommon.Map) map[string]any { return m.AsRaw() }

func TestExportEveryKind(t *testing.T) {
	addr, logs, metrics := collector(t)
	x, err := otlp.NewExporter(addr, otlp.WithBatch(64, 20*time.Millisecond))
	require.NoError(t, err)
	defer x.Close()

	ts := time.Unix(1714564800, 123456789)
	tags := map[string]string{"source_type": "APP/PROC/WEB", "deployment": "cf"}
	sent := []*envelope.Envelope{
		envelope.NewLog("app", []byte("hello"), envelope.WithTimestamp(ts), envelope.WithInstanceID("0"), envelope.WithTags(tags)),
		envelope.NewLog("app", []byte("oops"), envelope.WithTimestamp(ts), envelope.WithInstanceID("0"), envelope.WithLogType(envelope.Log_ERR)),
		envelope.NewEvent("app", "deployed", "v42", envelope.WithTimestamp(ts), envelope.WithInstanceID("0"), envelope.WithTags(tags)),
		envelope.NewCounter("app", "requests", 1, envelope.WithTotal(99), envelope.WithTimestamp(ts), envelope.WithInstanceID("1"), envelope.WithTags(tags)),
		envelope.NewGauge("app", []envelope.Metric{{Name: "cpu", Value: 0.25, Unit: "percentage"}, {Name: "memory", Value: 1024, Unit: "bytes"}},
			envelope.WithTimestamp(ts), envelope.WithInstanceID("1"), envelope.WithTags(tags)),
		envelope.NewTimer("app", "http", ts.Add(-1500*time.Microsecond), ts, envelope.WithTimestamp(ts), envelope.WithInstanceID("1"), envelope.WithTags(tags)),
		{SourceId: "app"}, // no message: nothing to export
	}
	for _, e := range sent[:3] {
		x.Emit(e)
	}
	for _, e := range sent[3:] {
		b, err := proto.Marshal(e)
		require.NoError(t, err)
		require.NoError(t, x.Publish(b))
	}
	require.NoError(t, x.Shutdown(context.Background()))
	require.ErrorIs(t, x.Publish(nil), otlp.ErrClosed)

	st := x.Stats()
	assert.Equal(t, otlp.Stats{Queued: 7, Exported: 6, Empty: 1, Exports: st.Exports}, st)
	require.Equal(t, 3, logs.LogRecordCount())
	require.Equal(t, 4, metrics.DataPointCount())

	type rec struct {
		res  map[string]any
		body string
		sev  plog.SeverityNumber
		text string
		ts   pcommon.Timestamp
		attr map[string]any
	}
	var got []rec
	for _, ld := range logs.AllLogs() {
		for _, rl := range ld.ResourceLogs().All() {
			for _, sl := range rl.ScopeLogs().All() {
				for _, r := range sl.LogRecords().All() {
					got = append(got, rec{attrs(rl.Resource().Attributes()), r.Body().Str(), r.SeverityNumber(), r.SeverityText(), r.Timestamp(), attrs(r.Attributes())})
				}
			}
		}
	}
	res0 := map[string]any{"service.name": "app", "service.instance.id": "0"}
	pts := pcommon.NewTimestampFromTime(ts)
	assert.ElementsMatch(t, []rec{
		{res0, "hello", plog.SeverityNumberInfo, "OUT", pts, map[string]any{"source_type": "APP/PROC/WEB", "deployment": "cf"}},
		{res0, "oops", plog.SeverityNumberError, "ERR", pts, map[string]any{}},
		{res0, "v42", plog.SeverityNumberInfo, "", pts, map[string]any{"source_type": "APP/PROC/WEB", "deployment": "cf", "event.title": "deployed"}},
	}, got)

	type point struct {
		res   map[string]any
		name  string
		typ   pmetric.MetricType
		unit  string
		value any
		ts    pcommon.Timestamp
		attr  map[string]any
	}
	var pts2 []point
	for _, md := range metrics.AllMetrics() {
		for _, rm := range md.ResourceMetrics().All() {
			for _, sm := range rm.ScopeMetrics().All() {
				for _, m := range sm.Metrics().All() {
					var dps pmetric.NumberDataPointSlice
					switch m.Type() {
					case pmetric.MetricTypeSum:
						dps = m.Sum().DataPoints()
						assert.True(t, m.Sum().IsMonotonic())
						assert.Equal(t, pmetric.AggregationTemporalityCumulative, m.Sum().AggregationTemporality())
					case pmetric.MetricTypeGauge:
						dps = m.Gauge().DataPoints()
					}
					require.Equal(t, 1, dps.Len())
					p := dps.At(0)
					var v any = p.DoubleValue()
					if p.ValueType() == pmetric.NumberDataPointValueTypeInt {
						v = p.IntValue()
					}
					pts2 = append(pts2, point{attrs(rm.Resource().Attributes()), m.Name(), m.Type(), m.Unit(), v, p.Timestamp(), attrs(p.Attributes())})
				}
			}
		}
	}
	res1 := map[string]any{"service.name": "app", "service.instance.id": "1"}
	tagAttrs := map[string]any{"source_type": "APP/PROC/WEB", "deployment": "cf"}
	assert.ElementsMatch(t, []point{
		{res1, "requests", pmetric.MetricTypeSum, "", int64(99), pts, tagAttrs},
		{res1, "cpu", pmetric.MetricTypeGauge, "percentage", 0.25, pts, tagAttrs},
		{res1, "memory", pmetric.MetricTypeGauge, "bytes", 1024.0, pts, tagAttrs},
		{res1, "http", pmetric.MetricTypeGauge, "ns", int64(1500000), pts, tagAttrs},
	}, pts2)
}

// A receiver that is not there: exports fail, are retried, and the
// envelopes are counted dropped; a full queue refuses and counts.
func TestExportFailuresCounted(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := lis.Addr().String()
	require.NoError(t, lis.Close())
	x, err := otlp.NewExporter(addr, otlp.WithQueueSize(5), otlp.WithBatch(100, 10*time.Millisecond),
		otlp.WithRetry(2, time.Millisecond, time.Millisecond))
	require.NoError(t, err)
	for i := range 20 {
		x.Emit(envelope.NewLog("app", []byte(strconv.Itoa(i))))
	}
	require.NoError(t, x.Shutdown(context.Background()))
	st := x.Stats()
	assert.Equal(t, uint64(20), st.Queued)
	assert.Equal(t, st.Queued, st.Exported+st.Empty+st.Dropped.Total())
	assert.Zero(t, st.Exported)
	assert.Positive(t, st.Dropped.Queue)
	assert.Positive(t, st.Retries)
	assert.Equal(t, 2*st.Retries, st.Failures, "each export tried twice, never accepted")
}

func TestInvalidConfig(t *testing.T) {
	for _, o := range []otlp.Option{otlp.WithQueueSize(0), otlp.WithBatch(0, time.Second), otlp.WithRetry(0, time.Second, time.Second)} {
		_, err := otlp.NewExporter("127.0.0.1:1", o)
		assert.ErrorIs(t, err, otlp.ErrInvalidConfig)
	}
	_, err := otlp.NewExporter("")
	assert.ErrorIs(t, err, otlp.ErrInvalidConfig)
}
