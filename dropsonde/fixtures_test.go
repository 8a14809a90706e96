package dropsonde_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/proto"

	"github.com/sluicelog/sluice/dropsonde/events"
	"github.com/sluicelog/sluice/envelope"
)

// The v1 fixtures below are the envelopes of go-loggregator's conversion
// end-to-end tests (v1 -> v2 -> v1 for every type), with every optional field
// set, so that they come back from v2 unchanged.

func v1Base(typ events.Envelope_EventType, tags map[string]string) *events.Envelope {
	return &events.Envelope{
		Origin:     proto.String("some-origin"),
		EventType:  typ.Enum(),
		Timestamp:  proto.Int64(1234),
		Deployment: proto.String("test-deployment"),
		Job:        proto.String("test-job"),
		Index:      proto.String("test-index"),
		Ip:         proto.String("test-ip"),
		Tags:       tags,
	}
}

// v2Tags are the tags ToV2 derives from v1Base, plus more.
func v2Tags(v1Type string, more map[string]string) map[string]string {
	t := map[string]string{
		"origin":     "some-origin",
		"deployment": "test-deployment",
		"job":        "test-job",
		"index":      "test-index",
		"ip":         "test-ip",
		"__v1_type":  v1Type,
	}
	for k, v := range more {
		t[k] = v
	}
	return t
}

func v1Log() *events.Envelope {
	e := v1Base(events.Envelope_LogMessage, map[string]string{"some-random": "tag", "source_id": "some-app-id"})
	e.LogMessage = &events.LogMessage{
		Message:        []byte("some-message"),
		MessageType:    events.LogMessage_ERR.Enum(),
		Timestamp:      proto.Int64(1234),
		AppId:          proto.String("some-app-id"),
		SourceType:     proto.String("some-source-type"),
		SourceInstance: proto.String("some-source-instance"),
	}
	return e
}

func v1ValueMetric() *events.Envelope {
	e := v1Base(events.Envelope_ValueMetric, map[string]string{
		"some-random": "tag", "source_id": "test-deployment/test-job", "instance_id": "3",
	})
	e.ValueMetric = &events.ValueMetric{Name: proto.String("some-name"), Value: proto.Float64(1.2345), Unit: proto.String("some-unit")}
	return e
}

func v1Counter() *events.Envelope {
	e := v1Base(events.Envelope_CounterEvent, map[string]string{
		"some-random": "tag", "source_id": "source-id", "instance_id": "instance-id",
	})
	e.CounterEvent = &events.CounterEvent{Name: proto.String("some-name"), Delta: proto.Uint64(2), Total: proto.Uint64(4356782)}
	return e
}

func v1ContainerMetric() *events.Envelope {
	e := v1Base(events.Envelope_ContainerMetric, map[string]string{"some-random": "tag", "source_id": "some-application-id"})
	e.ContainerMetric = &events.ContainerMetric{
		ApplicationId:    proto.String("some-application-id"),
		InstanceIndex:    proto.Int32(123546),
		CpuPercentage:    proto.Float64(1.12361),
		MemoryBytes:      proto.Uint64(213457),
		DiskBytes:        proto.Uint64(246583),
		MemoryBytesQuota: proto.Uint64(825456),
		DiskBytesQuota:   proto.Uint64(458724),
	}
	return e
}

func v1HTTP() *events.Envelope {
	e := v1Base(events.Envelope_HttpStartStop, map[string]string{
		"some-random": "tag", "source_id": "08000000-0000-0000-0500-000000000000",
	})
	e.HttpStartStop = &events.HttpStartStop{
		StartTimestamp: proto.Int64(1),
		StopTimestamp:  proto.Int64(2),
		RequestId:      &events.UUID{High: proto.Uint64(3), Low: proto.Uint64(4)},
		PeerType:       events.PeerType_Server.Enum(),
		Method:         events.Method_PUT.Enum(),
		Uri:            proto.String("http://example.com"),
		RemoteAddress:  proto.String("0.0.0.0"),
		UserAgent:      proto.String("curl/7.47.0"),
		StatusCode:     proto.Int32(200),
		ContentLength:  proto.Int64(1234),
		ApplicationId:  &events.UUID{High: proto.Uint64(5), Low: proto.Uint64(8)},
		InstanceIndex:  proto.Int32(123),
		InstanceId:     proto.String("test-instance-id"),
		Forwarded:      []string{"serverA, serverB", "serverC"},
	}
	return e
}

func v1Error() *events.Envelope {
	e := v1Base(events.Envelope_Error, map[string]string{"some-random": "tag", "source_id": "test-deployment/test-job"})
	e.Error = &events.Error{Source: proto.String("some-source"), Code: proto.Int32(12631), Message: proto.String("some-message")}
	return e
}

func mustMarshal(t testing.TB, m proto.Message) []byte {
	t.Helper()
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	require.NoError(t, err)
	return b
}

var text = prototext.MarshalOptions{Multiline: true}

// assertProtoEqual compares field by field: on a difference the diff of the
// two text forms names every field that differs.
func assertProtoEqual(t *testing.T, want, got proto.Message, msgAndArgs ...any) {
	t.Helper()
	if !proto.Equal(want, got) {
		assert.Equal(t, text.Format(want), text.Format(got), msgAndArgs...)
	}
}

func gaugeOf(m map[string]*envelope.GaugeValue) *envelope.Envelope_Gauge {
	return &envelope.Envelope_Gauge{Gauge: &envelope.Gauge{Metrics: m}}
}

func textValue(s string) *envelope.Value { return &envelope.Value{Data: &envelope.Value_Text{Text: s}} }
