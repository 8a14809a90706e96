package dropsonde

import (
	"maps"
	"slices"
	"strconv"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/sluicelog/sluice/dropsonde/events"
	"github.com/sluicelog/sluice/envelope"
)

// containerMetrics are the gauge metrics that make a v2 gauge a v1
// ContainerMetric.
var containerMetrics = [...]string{"cpu", "memory", "disk", "memory_quota", "disk_quota"}

// FromV2 converts a v2 envelope to the v1 envelopes a v1 consumer of
// Loggregator receives for it (go-loggregator's ToV1 rules). It returns nil
// for envelopes v1 cannot carry: events, envelopes without a message, and
// gauges with a nil metric. It does not modify e; the results share e's log
// payload.
//
// Every result takes origin, deployment, job, index and ip from the tags of
// the same name (Tags first, then DeprecatedTags; empty when absent), the
// timestamp, and as v1 tags the union of Tags and DeprecatedTags (deprecated
// values as text: integers as %d, decimals as %f; a deprecated tag wins over
// a tag of the same key) without __v1_type, origin, deployment, job, index,
// ip and the tags the type consumes. A non-empty source ID becomes the v1 tag
// source_id. Then, by type:
//
//   - Log: a LogMessage (OUT stays OUT, anything else is ERR) with app_id the
//     source ID, source_instance the instance ID, source_type from its tag;
//     but a log tagged __v1_type=Error becomes an Error again (source and
//     code from their tags, message the payload).
//   - Counter: a CounterEvent; a non-empty instance ID becomes the v1 tag
//     instance_id.
//   - Gauge with the metrics cpu, memory, disk, memory_quota and disk_quota
//     (and not only one metric): one ContainerMetric with applicationId the
//     source ID and instanceIndex the metric instance_index if present, else
//     the instance ID as an integer (0 if it is not one). Any other gauge:
//     one ValueMetric per metric, in order of metric name, each with the
//     v1 tag instance_id when the instance ID is not empty.
//   - Timer: an HttpStartStop (whatever the timer's name) with start and
//     stop, applicationId the source ID parsed as a UUID (unset when it is
//     not one), instanceIndex the instance ID as an integer (0 if not), and
//     the other fields from the tags request_id, peer_type, method, uri,
//     remote_address, user_agent, status_code, content_length,
//     routing_instance_id and forwarded (split at "\n").
//   - Event: nothing; Loggregator's v1 firehose does not carry events.
//
// An unknown peer_type or method is the number 0, as in Loggregator (v1
// defines no such value; Go and gogo readers accept it). Where Loggregator
// would leave a required field unset, so that the v1 envelope cannot be
// marshaled and is lost, FromV2 sets it so that every result marshals: a
// missing or unparsable request_id is the zero UUID, an empty log payload an
// empty message. An empty forwarded tag gives no forwarded entries
// (Loggregator gives one empty string).
func FromV2(e *envelope.Envelope) []*events.Envelope {
	var out []*events.Envelope
	switch m := e.GetMessage().(type) {
	case *envelope.Envelope_Log:
		out = []*events.Envelope{logFromV2(e, m.Log)}
	case *envelope.Envelope_Counter:
		out = []*events.Envelope{counterFromV2(e, m.Counter)}
	case *envelope.Envelope_Gauge:
		out = gaugeFromV2(e, m.Gauge)
	case *envelope.Envelope_Timer:
		out = []*events.Envelope{timerFromV2(e, m.Timer)}
	default: // events, no message
		return nil
	}
	for _, v1 := range out {
		for _, k := range [...]string{tagV1Type, "origin", "deployment", "job", "index", "ip"} {
			delete(v1.Tags, k)
		}
	}
	return out
}

// tag reads a v2 tag as Loggregator does: Tags first, then DeprecatedTags
// formatted as text.
func tag(e *envelope.Envelope, key string) string {
	if v, ok := e.GetTags()[key]; ok {
		return v
	}
	s, _ := valueText(e.GetDeprecatedTags()[key])
	return s
}

func valueText(v *envelope.Value) (string, bool) {
	switch d := v.GetData().(type) {
	case *envelope.Value_Text:
		return d.Text, true
	case *envelope.Value_Integer:
		return strconv.FormatInt(d.Integer, 10), true
	case *envelope.Value_Decimal:
		return strconv.FormatFloat(d.Decimal, 'f', 6, 64), true // fmt's %f
	}
	return "", false
}

// base builds the fields every v1 envelope converted from e shares.
func base(e *envelope.Envelope, typ events.Envelope_EventType) *events.Envelope {
	tags := make(map[string]string, len(e.GetTags())+len(e.GetDeprecatedTags())+1)
	for k, v := range e.GetTags() {
		tags[k] = v
	}
	for k, v := range e.GetDeprecatedTags() {
		if s, ok := valueText(v); ok {
			tags[k] = s
		}
	}
	if e.GetSourceId() != "" {
		tags[tagSourceID] = e.GetSourceId()
	}
	return &events.Envelope{
		Origin:     proto.String(tag(e, "origin")),
		EventType:  typ.Enum(),
		Timestamp:  proto.Int64(e.GetTimestamp()),
		Deployment: proto.String(tag(e, "deployment")),
		Job:        proto.String(tag(e, "job")),
		Index:      proto.String(tag(e, "index")),
		Ip:         proto.String(tag(e, "ip")),
		Tags:       tags,
	}
}

// atoi parses a decimal integer, 0 when s is not one.
func atoi(s string) int64 {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0
	}
	return n
}

// instanceIndex is the instance ID as Loggregator reads it for v1 (strconv.Atoi
// then int32), 0 when it is not an integer.
func instanceIndex(id string) int32 {
	n, err := strconv.Atoi(id)
	if err != nil {
		return 0
	}
	return int32(n)
}

func logFromV2(e *envelope.Envelope, l *envelope.Log) *events.Envelope {
	payload := l.GetPayload()
	if payload == nil {
		payload = []byte{}
	}
	if tag(e, tagV1Type) == events.Envelope_Error.String() {
		v1 := base(e, events.Envelope_Error)
		v1.Error = &events.Error{
			Source:  proto.String(tag(e, "source")),
			Code:    proto.Int32(int32(atoi(tag(e, "code")))),
			Message: proto.String(string(payload)),
		}
		delete(v1.Tags, "source")
		delete(v1.Tags, "code")
		return v1
	}
	v1 := base(e, events.Envelope_LogMessage)
	typ := events.LogMessage_ERR
	if l.GetType() == envelope.Log_OUT {
		typ = events.LogMessage_OUT
	}
	v1.LogMessage = &events.LogMessage{
		Message:        payload,
		MessageType:    typ.Enum(),
		Timestamp:      proto.Int64(e.GetTimestamp()),
		AppId:          proto.String(e.GetSourceId()),
		SourceType:     proto.String(tag(e, "source_type")),
		SourceInstance: proto.String(e.GetInstanceId()),
	}
	delete(v1.Tags, "source_type")
	return v1
}

func counterFromV2(e *envelope.Envelope, c *envelope.Counter) *events.Envelope {
	v1 := base(e, events.Envelope_CounterEvent)
	if e.GetInstanceId() != "" {
		v1.Tags[tagInstance] = e.GetInstanceId()
	}
	v1.CounterEvent = &events.CounterEvent{
		Name:  proto.String(c.GetName()),
		Delta: proto.Uint64(c.GetDelta()),
		Total: proto.Uint64(c.GetTotal()),
	}
	return v1
}

func gaugeFromV2(e *envelope.Envelope, g *envelope.Gauge) []*events.Envelope {
	metrics := g.GetMetrics()
	if v1 := containerMetricFromV2(e, metrics); v1 != nil {
		return []*events.Envelope{v1}
	}
	names := slices.Sorted(maps.Keys(metrics))
	out := make([]*events.Envelope, 0, len(names))
	for _, name := range names {
		m := metrics[name]
		if m == nil {
			return nil // Loggregator drops the whole gauge
		}
		v1 := base(e, events.Envelope_ValueMetric)
		if e.GetInstanceId() != "" {
			v1.Tags[tagInstance] = e.GetInstanceId()
		}
		v1.ValueMetric = &events.ValueMetric{
			Name:  proto.String(name),
			Value: proto.Float64(m.GetValue()),
			Unit:  proto.String(m.GetUnit()),
		}
		out = append(out, v1)
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

func containerMetricFromV2(e *envelope.Envelope, metrics map[string]*envelope.GaugeValue) *events.Envelope {
	if len(metrics) == 1 {
		return nil
	}
	for _, name := range containerMetrics {
		m := metrics[name]
		if m == nil || (m.GetUnit() == "" && m.GetValue() == 0) {
			return nil
		}
	}
	idx := instanceIndex(e.GetInstanceId())
	if m := metrics["instance_index"]; m != nil {
		idx = int32(m.GetValue())
	}
	v1 := base(e, events.Envelope_ContainerMetric)
	v1.ContainerMetric = &events.ContainerMetric{
		ApplicationId:    proto.String(e.GetSourceId()),
		InstanceIndex:    proto.Int32(idx),
		CpuPercentage:    proto.Float64(metrics["cpu"].GetValue()),
		MemoryBytes:      proto.Uint64(uint64(metrics["memory"].GetValue())),
		DiskBytes:        proto.Uint64(uint64(metrics["disk"].GetValue())),
		MemoryBytesQuota: proto.Uint64(uint64(metrics["memory_quota"].GetValue())),
		DiskBytesQuota:   proto.Uint64(uint64(metrics["disk_quota"].GetValue())),
	}
	return v1
}

// httpTags are the v2 tags a timer's HttpStartStop consumes.
var httpTags = [...]string{
	"request_id", "peer_type", "method", "uri", "remote_address", "user_agent",
	"status_code", "content_length", "routing_instance_id", "forwarded",
}

func timerFromV2(e *envelope.Envelope, t *envelope.Timer) *events.Envelope {
	v1 := base(e, events.Envelope_HttpStartStop)
	reqID := parseUUID(tag(e, "request_id"))
	if reqID == nil {
		reqID = &events.UUID{Low: proto.Uint64(0), High: proto.Uint64(0)}
	}
	peer := events.PeerType(events.PeerType_value[tag(e, "peer_type")]) // 0 when unknown, as Loggregator
	method := events.Method(events.Method_value[tag(e, "method")])
	var forwarded []string
	if f := tag(e, "forwarded"); f != "" {
		forwarded = strings.Split(f, "\n")
	}
	v1.HttpStartStop = &events.HttpStartStop{
		StartTimestamp: proto.Int64(t.GetStart()),
		StopTimestamp:  proto.Int64(t.GetStop()),
		RequestId:      reqID,
		PeerType:       peer.Enum(),
		Method:         method.Enum(),
		Uri:            proto.String(tag(e, "uri")),
		RemoteAddress:  proto.String(tag(e, "remote_address")),
		UserAgent:      proto.String(tag(e, "user_agent")),
		StatusCode:     proto.Int32(int32(atoi(tag(e, "status_code")))),
		ContentLength:  proto.Int64(atoi(tag(e, "content_length"))),
		ApplicationId:  parseUUID(e.GetSourceId()),
		InstanceIndex:  proto.Int32(instanceIndex(e.GetInstanceId())),
		InstanceId:     proto.String(tag(e, "routing_instance_id")),
		Forwarded:      forwarded,
	}
	for _, k := range httpTags {
		delete(v1.Tags, k)
	}
	return v1
}
