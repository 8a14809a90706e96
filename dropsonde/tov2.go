package dropsonde

import (
	"maps"
	"strconv"
	"strings"

	"github.com/sluicelog/sluice/dropsonde/events"
	"github.com/sluicelog/sluice/envelope"
)

// Tag names the conversion reads and writes, Loggregator's.
const (
	tagV1Type   = "__v1_type"
	tagSourceID = "source_id"
	tagInstance = "instance_id"
)

// ToV2 converts a v1 envelope to a v2 envelope the way Loggregator's router
// does when it takes v1 traffic (go-loggregator's conversion with preferred
// tags: every tag is a string in Tags, DeprecatedTags stays empty). It never
// fails: fields the v1 envelope lacks read as their zero values, as in
// Loggregator. A nil e gives nil. The result shares the log payload with e.
//
// Every envelope gets the tags origin, deployment, job, index and ip (empty
// when the v1 field is unset) and __v1_type (the v1 event type's name), on
// top of a copy of e's tags. The source ID is the v1 tag source_id when
// present (the tag is then removed), else "deployment/job". Then, by type:
//
//   - LogMessage: a log (OUT or ERR); app_id, when set, is the source ID;
//     source_instance is the instance ID; tag source_type.
//   - ValueMetric: a gauge with one metric (name, unit, value); the instance
//     ID is the v1 tag instance_id, which stays a tag.
//   - CounterEvent: a counter (name, delta, total); the instance ID is the v1
//     tag instance_id, which is removed.
//   - ContainerMetric: a gauge with metrics cpu (unit "percentage"), memory,
//     disk, memory_quota and disk_quota (unit "bytes"); applicationId, when
//     set, is the source ID; the instance index is the instance ID.
//   - HttpStartStop: a timer named "http" (start, stop); applicationId, when
//     set and not zero, is the source ID (as a UUID string); the instance
//     index is the instance ID; tags request_id, peer_type, method, uri,
//     remote_address, user_agent, status_code, content_length,
//     routing_instance_id (the v1 instanceId) and forwarded (joined by "\n").
//   - Error: a log of type OUT whose payload is the error message; tags
//     source and code.
func ToV2(e *events.Envelope) *envelope.Envelope {
	if e == nil {
		return nil
	}
	v1Tags := e.GetTags()
	tags := make(map[string]string, len(v1Tags)+6)
	maps.Copy(tags, v1Tags)
	tags["origin"] = e.GetOrigin()
	tags["deployment"] = e.GetDeployment()
	tags["job"] = e.GetJob()
	tags["index"] = e.GetIndex()
	tags["ip"] = e.GetIp()
	tags[tagV1Type] = e.GetEventType().String()

	out := &envelope.Envelope{Timestamp: e.GetTimestamp(), Tags: tags}
	if id, ok := v1Tags[tagSourceID]; ok {
		out.SourceId = id
	} else {
		out.SourceId = e.GetDeployment() + "/" + e.GetJob()
	}
	delete(tags, tagSourceID)

	switch e.GetEventType() {
	case events.Envelope_LogMessage:
		logToV2(out, e.GetLogMessage())
	case events.Envelope_ValueMetric:
		m := e.GetValueMetric()
		out.InstanceId = v1Tags[tagInstance]
		out.Message = gauge(map[string]*envelope.GaugeValue{
			m.GetName(): {Unit: m.GetUnit(), Value: m.GetValue()},
		})
	case events.Envelope_CounterEvent:
		c := e.GetCounterEvent()
		out.InstanceId = v1Tags[tagInstance]
		delete(tags, tagInstance)
		out.Message = &envelope.Envelope_Counter{Counter: &envelope.Counter{
			Name: c.GetName(), Delta: c.GetDelta(), Total: c.GetTotal(),
		}}
	case events.Envelope_ContainerMetric:
		containerMetricToV2(out, e.GetContainerMetric())
	case events.Envelope_HttpStartStop:
		httpToV2(out, e.GetHttpStartStop())
	case events.Envelope_Error:
		x := e.GetError()
		tags["source"] = x.GetSource()
		tags["code"] = strconv.Itoa(int(x.GetCode()))
		out.Message = &envelope.Envelope_Log{Log: &envelope.Log{
			Payload: []byte(x.GetMessage()), Type: envelope.Log_OUT,
		}}
	}
	return out
}

func gauge(m map[string]*envelope.GaugeValue) *envelope.Envelope_Gauge {
	return &envelope.Envelope_Gauge{Gauge: &envelope.Gauge{Metrics: m}}
}

func logToV2(out *envelope.Envelope, m *events.LogMessage) {
	out.Tags["source_type"] = m.GetSourceType()
	out.InstanceId = m.GetSourceInstance()
	if id := m.GetAppId(); id != "" {
		out.SourceId = id
	}
	typ := envelope.Log_OUT
	if m.GetMessageType() == events.LogMessage_ERR {
		typ = envelope.Log_ERR
	}
	out.Message = &envelope.Envelope_Log{Log: &envelope.Log{Payload: m.GetMessage(), Type: typ}}
}

func containerMetricToV2(out *envelope.Envelope, m *events.ContainerMetric) {
	if id := m.GetApplicationId(); id != "" {
		out.SourceId = id
	}
	out.InstanceId = strconv.Itoa(int(m.GetInstanceIndex()))
	out.Message = gauge(map[string]*envelope.GaugeValue{
		"cpu":          {Unit: "percentage", Value: m.GetCpuPercentage()},
		"memory":       {Unit: "bytes", Value: float64(m.GetMemoryBytes())},
		"disk":         {Unit: "bytes", Value: float64(m.GetDiskBytes())},
		"memory_quota": {Unit: "bytes", Value: float64(m.GetMemoryBytesQuota())},
		"disk_quota":   {Unit: "bytes", Value: float64(m.GetDiskBytesQuota())},
	})
}

func httpToV2(out *envelope.Envelope, h *events.HttpStartStop) {
	if app := h.GetApplicationId(); app.GetLow() != 0 || app.GetHigh() != 0 {
		out.SourceId = uuidString(app)
	}
	out.InstanceId = strconv.Itoa(int(h.GetInstanceIndex()))
	out.Message = &envelope.Envelope_Timer{Timer: &envelope.Timer{
		Name: "http", Start: h.GetStartTimestamp(), Stop: h.GetStopTimestamp(),
	}}
	t := out.Tags
	t["request_id"] = uuidString(h.GetRequestId())
	t["peer_type"] = h.GetPeerType().String()
	t["method"] = h.GetMethod().String()
	t["uri"] = h.GetUri()
	t["remote_address"] = h.GetRemoteAddress()
	t["user_agent"] = h.GetUserAgent()
	t["status_code"] = strconv.Itoa(int(h.GetStatusCode()))
	t["content_length"] = strconv.FormatInt(h.GetContentLength(), 10)
	t["routing_instance_id"] = h.GetInstanceId()
	t["forwarded"] = strings.Join(h.GetForwarded(), "\n")
}
