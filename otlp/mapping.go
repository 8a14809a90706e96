package otlp

import (
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/sluicelog/sluice/envelope"
)

// Resource attribute names: an envelope's source ID is the service, its
// instance ID the service instance (OpenTelemetry semantic conventions).
const (
	AttrServiceName     = "service.name"
	AttrServiceInstance = "service.instance.id"
	// AttrEventTitle carries an event's title; its body is the record's body.
	AttrEventTitle = "event.title"
)

// Batch gathers envelopes as OTLP logs and metrics, one resource per
// (source ID, instance ID). Not safe for concurrent use.
type Batch struct {
	Logs    plog.Logs
	Metrics pmetric.Metrics
	logRes  map[[2]string]plog.ScopeLogs
	metRes  map[[2]string]pmetric.ScopeMetrics
	n       int
}

// NewBatch returns an empty Batch.
func NewBatch() *Batch {
	return &Batch{Logs: plog.NewLogs(), Metrics: pmetric.NewMetrics(),
		logRes: make(map[[2]string]plog.ScopeLogs), metRes: make(map[[2]string]pmetric.ScopeMetrics)}
}

// Len is the number of envelopes added.
func (b *Batch) Len() int { return b.n }

const scopeName = "github.com/sluicelog/sluice/otlp"

func setResource(r pcommon.Resource, key [2]string) {
	r.Attributes().PutStr(AttrServiceName, key[0])
	if key[1] != "" {
		r.Attributes().PutStr(AttrServiceInstance, key[1])
	}
}

func (b *Batch) scopeLogs(key [2]string) plog.ScopeLogs {
	if sl, ok := b.logRes[key]; ok {
		return sl
	}
	rl := b.Logs.ResourceLogs().AppendEmpty()
	setResource(rl.Resource(), key)
	sl := rl.ScopeLogs().AppendEmpty()
	sl.Scope().SetName(scopeName)
	b.logRes[key] = sl
	return sl
}

func (b *Batch) scopeMetrics(key [2]string) pmetric.ScopeMetrics {
	if sm, ok := b.metRes[key]; ok {
		return sm
	}
	rm := b.Metrics.ResourceMetrics().AppendEmpty()
	setResource(rm.Resource(), key)
	sm := rm.ScopeMetrics().AppendEmpty()
	sm.Scope().SetName(scopeName)
	b.metRes[key] = sm
	return sm
}

// Add maps one envelope; it reports false for an envelope without a
// message, which adds nothing.
//
//   - log: a log record, body the payload as a string, severity INFO
//     (stdout, "OUT") or ERROR (stderr, "ERR"), attributes the tags.
//   - event: a log record, body the event's body, attribute event.title
//     and the tags.
//   - counter: a monotonic cumulative sum named after the counter, one
//     integer point of value total (delta when total is 0, as a delta sum).
//   - gauge: one gauge per metric, named after it, with its unit, one
//     double point.
//   - timer: a gauge named after the timer, unit "ns", one integer point of
//     value stop - start, timestamped at stop, start time at start.
//
// Every point and record carries the tags as string attributes and the
// envelope's timestamp.
func (b *Batch) Add(e *envelope.Envelope) bool {
	key := [2]string{e.GetSourceId(), e.GetInstanceId()}
	ts := pcommon.Timestamp(e.GetTimestamp())
	switch m := e.GetMessage().(type) {
	case *envelope.Envelope_Log:
		r := b.scopeLogs(key).LogRecords().AppendEmpty()
		r.SetTimestamp(ts)
		r.SetObservedTimestamp(ts)
		r.Body().SetStr(string(m.Log.GetPayload()))
		if m.Log.GetType() == envelope.Log_ERR {
			r.SetSeverityNumber(plog.SeverityNumberError)
			r.SetSeverityText("ERR")
		} else {
			r.SetSeverityNumber(plog.SeverityNumberInfo)
			r.SetSeverityText("OUT")
		}
		putTags(r.Attributes(), e.GetTags())
	case *envelope.Envelope_Event:
		r := b.scopeLogs(key).LogRecords().AppendEmpty()
		r.SetTimestamp(ts)
		r.SetObservedTimestamp(ts)
		r.Body().SetStr(m.Event.GetBody())
		r.SetSeverityNumber(plog.SeverityNumberInfo)
		putTags(r.Attributes(), e.GetTags())
		r.Attributes().PutStr(AttrEventTitle, m.Event.GetTitle())
	case *envelope.Envelope_Counter:
		metric := b.scopeMetrics(key).Metrics().AppendEmpty()
		metric.SetName(m.Counter.GetName())
		sum := metric.SetEmptySum()
		sum.SetIsMonotonic(true)
		p := sum.DataPoints().AppendEmpty()
		p.SetTimestamp(ts)
		if m.Counter.GetTotal() == 0 && m.Counter.GetDelta() != 0 {
			sum.SetAggregationTemporality(pmetric.AggregationTemporalityDelta)
			p.SetIntValue(int64(m.Counter.GetDelta()))
		} else {
			sum.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
			p.SetIntValue(int64(m.Counter.GetTotal()))
		}
		putTags(p.Attributes(), e.GetTags())
	case *envelope.Envelope_Gauge:
		ms := b.scopeMetrics(key).Metrics()
		for name, v := range m.Gauge.GetMetrics() {
			metric := ms.AppendEmpty()
			metric.SetName(name)
			metric.SetUnit(v.GetUnit())
			p := metric.SetEmptyGauge().DataPoints().AppendEmpty()
			p.SetTimestamp(ts)
			p.SetDoubleValue(v.GetValue())
			putTags(p.Attributes(), e.GetTags())
		}
	case *envelope.Envelope_Timer:
		metric := b.scopeMetrics(key).Metrics().AppendEmpty()
		metric.SetName(m.Timer.GetName())
		metric.SetUnit("ns")
		p := metric.SetEmptyGauge().DataPoints().AppendEmpty()
		p.SetStartTimestamp(pcommon.Timestamp(m.Timer.GetStart()))
		p.SetTimestamp(pcommon.Timestamp(m.Timer.GetStop()))
		p.SetIntValue(time.Duration(m.Timer.GetStop() - m.Timer.GetStart()).Nanoseconds())
		putTags(p.Attributes(), e.GetTags())
	default:
		return false
	}
	b.n++
	return true
}

func putTags(a pcommon.Map, tags map[string]string) {
	a.EnsureCapacity(len(tags))
	for k, v := range tags {
		a.PutStr(k, v)
	}
}
