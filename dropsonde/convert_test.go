package dropsonde_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/sluicelog/sluice/dropsonde"
	"github.com/sluicelog/sluice/dropsonde/events"
	"github.com/sluicelog/sluice/envelope"
)

// Every v1 type: v1 -> v2 against a golden v2 envelope (the rule each golden
// encodes is named), then v2 -> v1 back to the original, field by field, as
// go-loggregator's end-to-end conversion tests require. The v2 goldens are
// in the preferred-tags form Loggregator's router uses for v1 ingress
// (conversion.ToV2(e, true)): every tag a string in Tags.
func TestV1RoundTrip(t *testing.T) {
	tests := []struct {
		name string
		rule string
		v1   *events.Envelope
		v2   *envelope.Envelope
	}{
		{
			name: "LogMessage",
			rule: "log -> log, type kept; app_id -> source_id; source_instance -> instance_id; source_type -> tag",
			v1:   v1Log(),
			v2: &envelope.Envelope{
				Timestamp: 1234, SourceId: "some-app-id", InstanceId: "some-source-instance",
				Tags: v2Tags("LogMessage", map[string]string{"some-random": "tag", "source_type": "some-source-type"}),
				Message: &envelope.Envelope_Log{Log: &envelope.Log{
					Payload: []byte("some-message"), Type: envelope.Log_ERR,
				}},
			},
		},
		{
			name: "ValueMetric",
			rule: "value metric -> gauge with one metric; tag source_id -> source_id; tag instance_id -> instance_id (tag kept)",
			v1:   v1ValueMetric(),
			v2: &envelope.Envelope{
				Timestamp: 1234, SourceId: "test-deployment/test-job", InstanceId: "3",
				Tags:    v2Tags("ValueMetric", map[string]string{"some-random": "tag", "instance_id": "3"}),
				Message: gaugeOf(map[string]*envelope.GaugeValue{"some-name": {Unit: "some-unit", Value: 1.2345}}),
			},
		},
		{
			name: "CounterEvent",
			rule: "counter event -> counter (name, delta, total); tag instance_id -> instance_id (tag removed)",
			v1:   v1Counter(),
			v2: &envelope.Envelope{
				Timestamp: 1234, SourceId: "source-id", InstanceId: "instance-id",
				Tags: v2Tags("CounterEvent", map[string]string{"some-random": "tag"}),
				Message: &envelope.Envelope_Counter{Counter: &envelope.Counter{
					Name: "some-name", Delta: 2, Total: 4356782,
				}},
			},
		},
		{
			name: "ContainerMetric",
			rule: "container metric -> gauge cpu/memory/disk/memory_quota/disk_quota; applicationId -> source_id; instanceIndex -> instance_id",
			v1:   v1ContainerMetric(),
			v2: &envelope.Envelope{
				Timestamp: 1234, SourceId: "some-application-id", InstanceId: "123546",
				Tags: v2Tags("ContainerMetric", map[string]string{"some-random": "tag"}),
				Message: gaugeOf(map[string]*envelope.GaugeValue{
					"cpu":          {Unit: "percentage", Value: 1.12361},
					"memory":       {Unit: "bytes", Value: 213457},
					"disk":         {Unit: "bytes", Value: 246583},
					"memory_quota": {Unit: "bytes", Value: 825456},
					"disk_quota":   {Unit: "bytes", Value: 458724},
				}),
			},
		},
		{
			name: "HttpStartStop",
			rule: "http start/stop -> timer \"http\"; applicationId UUID -> source_id; instanceIndex -> instance_id; request fields -> tags, forwarded joined by newline",
			v1:   v1HTTP(),
			v2: &envelope.Envelope{
				Timestamp: 1234, SourceId: "08000000-0000-0000-0500-000000000000", InstanceId: "123",
				Tags: v2Tags("HttpStartStop", map[string]string{
					"some-random":         "tag",
					"request_id":          "04000000-0000-0000-0300-000000000000",
					"peer_type":           "Server",
					"method":              "PUT",
					"uri":                 "http://example.com",
					"remote_address":      "0.0.0.0",
					"user_agent":          "curl/7.47.0",
					"status_code":         "200",
					"content_length":      "1234",
					"routing_instance_id": "test-instance-id",
					"forwarded":           "serverA, serverB\nserverC",
				}),
				Message: &envelope.Envelope_Timer{Timer: &envelope.Timer{Name: "http", Start: 1, Stop: 2}},
			},
		},
		{
			name: "Error",
			rule: "error -> log of type OUT with the message as payload; source and code -> tags",
			v1:   v1Error(),
			v2: &envelope.Envelope{
				Timestamp: 1234, SourceId: "test-deployment/test-job",
				Tags: v2Tags("Error", map[string]string{"some-random": "tag", "source": "some-source", "code": "12631"}),
				Message: &envelope.Envelope_Log{Log: &envelope.Log{
					Payload: []byte("some-message"), Type: envelope.Log_OUT,
				}},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			original := proto.Clone(tt.v1)
			v2 := dropsonde.ToV2(tt.v1)
			assertProtoEqual(t, tt.v2, v2, "v1 -> v2: %s", tt.rule)
			assertProtoEqual(t, original, tt.v1, "ToV2 must not modify its input")

			// The same through wire bytes, as the Ingestor converts.
			b, err := dropsonde.PayloadToV2(mustMarshal(t, tt.v1))
			require.NoError(t, err)
			var fromWire envelope.Envelope
			require.NoError(t, proto.Unmarshal(b, &fromWire))
			assertProtoEqual(t, tt.v2, &fromWire, "PayloadToV2")

			back := dropsonde.FromV2(v2)
			require.Len(t, back, 1)
			assertProtoEqual(t, original, back[0], "v2 -> v1")
		})
	}
}

// Loggregator's own golden UUIDs: the byte order of events.UUID.
func TestUUIDGoldens(t *testing.T) {
	tests := []struct {
		uuid      string
		low, high uint64
	}{
		{"954f61c4-ac84-44be-9217-cdfa3117fb41", 0xbe4484acc4614f95, 0x41fb1731facd1792},
		{"b3015d69-09cd-476d-aace-ad2d824d5ab7", 0x6d47cd09695d01b3, 0xb75a4d822dadceaa},
		{"f47ac10b-58cc-4372-a567-0e02b2c3d479", 0x7243cc580bc17af4, 0x79d4c3b2020e67a5},
	}
	for _, tt := range tests {
		t.Run(tt.uuid, func(t *testing.T) {
			v1 := v1HTTP()
			v1.Tags = nil
			v1.HttpStartStop.RequestId = &events.UUID{Low: proto.Uint64(tt.low), High: proto.Uint64(tt.high)}
			v1.HttpStartStop.ApplicationId = &events.UUID{Low: proto.Uint64(tt.low), High: proto.Uint64(tt.high)}
			v2 := dropsonde.ToV2(v1)
			assert.Equal(t, tt.uuid, v2.GetTags()["request_id"])
			assert.Equal(t, tt.uuid, v2.GetSourceId())
			back := dropsonde.FromV2(v2)
			require.Len(t, back, 1)
			assertProtoEqual(t, v1.HttpStartStop.RequestId, back[0].HttpStartStop.RequestId)
			assertProtoEqual(t, v1.HttpStartStop.ApplicationId, back[0].HttpStartStop.ApplicationId)
		})
	}
}

// Source and instance IDs when the v1 envelope does not name them.
func TestToV2Derivations(t *testing.T) {
	t.Run("no source_id tag and no app ID: deployment/job", func(t *testing.T) {
		for _, e := range []*events.Envelope{v1Log(), v1ContainerMetric(), v1Error(), v1ValueMetric()} {
			e.Tags = nil
			if e.LogMessage != nil {
				e.LogMessage.AppId = nil
			}
			if e.ContainerMetric != nil {
				e.ContainerMetric.ApplicationId = proto.String("")
			}
			assert.Equal(t, "test-deployment/test-job", dropsonde.ToV2(e).GetSourceId(), e.GetEventType().String())
		}
	})
	t.Run("zero application UUID keeps the tag's source ID", func(t *testing.T) {
		e := v1HTTP()
		e.HttpStartStop.ApplicationId = &events.UUID{Low: proto.Uint64(0), High: proto.Uint64(0)}
		assert.Equal(t, "08000000-0000-0000-0500-000000000000", dropsonde.ToV2(e).GetSourceId())
	})
	t.Run("unset optional fields are empty tags", func(t *testing.T) {
		e := &events.Envelope{
			Origin: proto.String("o"), EventType: events.Envelope_CounterEvent.Enum(),
			CounterEvent: &events.CounterEvent{Name: proto.String("n"), Delta: proto.Uint64(1)},
		}
		want := &envelope.Envelope{
			SourceId: "/",
			Tags: map[string]string{
				"origin": "o", "deployment": "", "job": "", "index": "", "ip": "", "__v1_type": "CounterEvent",
			},
			Message: &envelope.Envelope_Counter{Counter: &envelope.Counter{Name: "n", Delta: 1}},
		}
		assertProtoEqual(t, want, dropsonde.ToV2(e))
	})
	t.Run("nil", func(t *testing.T) {
		assert.Nil(t, dropsonde.ToV2(nil))
	})
}

// Every v2 type to v1 against goldens from go-loggregator's ToV1 tests (rule
// named per case), then back to v2 where Loggregator's v2 -> v1 -> v2 tests
// require it (in the preferred-tags form).
func TestFromV2(t *testing.T) {
	emptyBase := func(typ events.Envelope_EventType, ts int64, tags map[string]string) *events.Envelope {
		return &events.Envelope{
			Origin: proto.String(""), EventType: typ.Enum(), Timestamp: proto.Int64(ts),
			Deployment: proto.String(""), Job: proto.String(""), Index: proto.String(""), Ip: proto.String(""),
			Tags: tags,
		}
	}
	httpTags := map[string]*envelope.Value{
		"request_id":          textValue("954f61c4-ac84-44be-9217-cdfa3117fb41"),
		"peer_type":           textValue("Client"),
		"method":              textValue("GET"),
		"uri":                 textValue("/hello-world"),
		"remote_address":      textValue("10.1.1.0"),
		"user_agent":          textValue("Mozilla/5.0"),
		"status_code":         textValue("200"),
		"content_length":      textValue("1000000"),
		"routing_instance_id": textValue("application-id"),
		"forwarded":           textValue("6.6.6.6\n8.8.8.8"),
	}
	httpWant := func() *events.Envelope {
		e := emptyBase(events.Envelope_HttpStartStop, 0, map[string]string{"source_id": "b3015d69-09cd-476d-aace-ad2d824d5ab7"})
		e.HttpStartStop = &events.HttpStartStop{
			StartTimestamp: proto.Int64(99), StopTimestamp: proto.Int64(100),
			RequestId:     &events.UUID{Low: proto.Uint64(0xbe4484acc4614f95), High: proto.Uint64(0x41fb1731facd1792)},
			ApplicationId: &events.UUID{Low: proto.Uint64(0x6d47cd09695d01b3), High: proto.Uint64(0xb75a4d822dadceaa)},
			PeerType:      events.PeerType_Client.Enum(), Method: events.Method_GET.Enum(),
			Uri: proto.String("/hello-world"), RemoteAddress: proto.String("10.1.1.0"), UserAgent: proto.String("Mozilla/5.0"),
			StatusCode: proto.Int32(200), ContentLength: proto.Int64(1000000), InstanceIndex: proto.Int32(10),
			InstanceId: proto.String("application-id"), Forwarded: []string{"6.6.6.6", "8.8.8.8"},
		}
		return e
	}
	withInt := func(m map[string]*envelope.Value, k string, v int64) map[string]*envelope.Value {
		out := make(map[string]*envelope.Value, len(m))
		for k, v := range m {
			out[k] = v
		}
		out[k] = &envelope.Value{Data: &envelope.Value_Integer{Integer: v}}
		return out
	}
	containerMetrics := func(extra map[string]*envelope.GaugeValue) map[string]*envelope.GaugeValue {
		m := map[string]*envelope.GaugeValue{
			"cpu": {Unit: "percentage", Value: 11}, "memory": {Unit: "bytes", Value: 13}, "disk": {Unit: "bytes", Value: 15},
			"memory_quota": {Unit: "bytes", Value: 17}, "disk_quota": {Unit: "bytes", Value: 19},
		}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}

	containerWant := func(tags map[string]string, app string, index int32) *events.Envelope {
		e := emptyBase(events.Envelope_ContainerMetric, 0, tags)
		e.ContainerMetric = &events.ContainerMetric{
			ApplicationId: proto.String(app), InstanceIndex: proto.Int32(index), CpuPercentage: proto.Float64(11),
			MemoryBytes: proto.Uint64(13), DiskBytes: proto.Uint64(15), MemoryBytesQuota: proto.Uint64(17), DiskBytesQuota: proto.Uint64(19),
		}
		return e
	}

	tests := []struct {
		name string
		rule string
		v2   *envelope.Envelope
		want []*events.Envelope
	}{
		{
			name: "log",
			rule: "log -> LogMessage; source_id -> app_id and tag source_id; instance_id -> source_instance; tag source_type",
			v2: &envelope.Envelope{
				Timestamp: 99, SourceId: "uuid", InstanceId: "test-source-instance",
				DeprecatedTags: map[string]*envelope.Value{"source_type": textValue("test-source-type")},
				Message:        &envelope.Envelope_Log{Log: &envelope.Log{Payload: []byte("Hello World"), Type: envelope.Log_OUT}},
			},
			want: []*events.Envelope{func() *events.Envelope {
				e := emptyBase(events.Envelope_LogMessage, 99, map[string]string{"source_id": "uuid"})
				e.LogMessage = &events.LogMessage{
					Message: []byte("Hello World"), MessageType: events.LogMessage_OUT.Enum(), Timestamp: proto.Int64(99),
					AppId: proto.String("uuid"), SourceType: proto.String("test-source-type"), SourceInstance: proto.String("test-source-instance"),
				}
				return e
			}()},
		},
		{
			name: "log tagged as a v1 error",
			rule: "log with __v1_type=Error -> Error (source, code from tags; message from payload)",
			v2: &envelope.Envelope{
				Timestamp: 5, Tags: map[string]string{"__v1_type": "Error", "source": "s", "code": "42", "keep": "me"},
				Message: &envelope.Envelope_Log{Log: &envelope.Log{Payload: []byte("boom")}},
			},
			want: []*events.Envelope{func() *events.Envelope {
				e := emptyBase(events.Envelope_Error, 5, map[string]string{"keep": "me"})
				e.Error = &events.Error{Source: proto.String("s"), Code: proto.Int32(42), Message: proto.String("boom")}
				return e
			}()},
		},
		{
			name: "envelope tags",
			rule: "origin/deployment/job/index/ip from tags; other tags kept; deprecated integers as %d, decimals as %f; nil deprecated values skipped; a deprecated tag wins over a tag",
			v2: &envelope.Envelope{
				Timestamp: 99,
				Tags:      map[string]string{"origin": "origin", "foo": "from-tags", "plain": "bar"},
				DeprecatedTags: map[string]*envelope.Value{
					"deployment": textValue("deployment"), "job": textValue("job"), "index": textValue("index"), "ip": textValue("ip"),
					"random_text": textValue("random_text"),
					"random_int":  {Data: &envelope.Value_Integer{Integer: 123}},
					"random_dec":  {Data: &envelope.Value_Decimal{Decimal: 123}},
					"foo":         textValue("from-deprecated"),
					"baz":         nil,
				},
				Message: &envelope.Envelope_Log{Log: &envelope.Log{}},
			},
			want: []*events.Envelope{{
				Origin: proto.String("origin"), EventType: events.Envelope_LogMessage.Enum(), Timestamp: proto.Int64(99),
				Deployment: proto.String("deployment"), Job: proto.String("job"), Index: proto.String("index"), Ip: proto.String("ip"),
				Tags: map[string]string{
					"random_text": "random_text", "random_int": "123", "random_dec": "123.000000",
					"foo": "from-deprecated", "plain": "bar",
				},
				LogMessage: &events.LogMessage{
					Message: []byte{}, MessageType: events.LogMessage_OUT.Enum(), Timestamp: proto.Int64(99),
					AppId: proto.String(""), SourceType: proto.String(""), SourceInstance: proto.String(""),
				},
			}},
		},
		{
			name: "counter",
			rule: "counter -> CounterEvent (name, delta, total); instance_id -> tag instance_id",
			v2: &envelope.Envelope{
				InstanceId: "7",
				Message:    &envelope.Envelope_Counter{Counter: &envelope.Counter{Name: "name", Total: 99}},
			},
			want: []*events.Envelope{func() *events.Envelope {
				e := emptyBase(events.Envelope_CounterEvent, 0, map[string]string{"instance_id": "7"})
				e.CounterEvent = &events.CounterEvent{Name: proto.String("name"), Delta: proto.Uint64(0), Total: proto.Uint64(99)}
				return e
			}()},
		},
		{
			name: "gauge with two metrics",
			rule: "gauge -> one ValueMetric per metric (sorted by name), each with the envelope fields",
			v2: &envelope.Envelope{
				InstanceId: "i",
				Tags:       map[string]string{"origin": "my-origin", "deployment": "my-deployment", "job": "my-job", "index": "my-index", "ip": "my-ip"},
				Message: gaugeOf(map[string]*envelope.GaugeValue{
					"other-name": {Unit: "feet", Value: 321}, "name": {Unit: "meters", Value: 123},
				}),
			},
			want: func() []*events.Envelope {
				var out []*events.Envelope
				for _, m := range []struct {
					name, unit string
					value      float64
				}{{"name", "meters", 123}, {"other-name", "feet", 321}} {
					out = append(out, &events.Envelope{
						Origin: proto.String("my-origin"), EventType: events.Envelope_ValueMetric.Enum(), Timestamp: proto.Int64(0),
						Deployment: proto.String("my-deployment"), Job: proto.String("my-job"), Index: proto.String("my-index"), Ip: proto.String("my-ip"),
						Tags:        map[string]string{"instance_id": "i"},
						ValueMetric: &events.ValueMetric{Name: proto.String(m.name), Unit: proto.String(m.unit), Value: proto.Float64(m.value)},
					})
				}
				return out
			}(),
		},
		{
			name: "gauge with a zero metric",
			rule: "a single zero metric is still a ValueMetric",
			v2:   &envelope.Envelope{Message: gaugeOf(map[string]*envelope.GaugeValue{"name": {}})},
			want: []*events.Envelope{func() *events.Envelope {
				e := emptyBase(events.Envelope_ValueMetric, 0, map[string]string{})
				e.ValueMetric = &events.ValueMetric{Name: proto.String("name"), Unit: proto.String(""), Value: proto.Float64(0)}
				return e
			}()},
		},
		{
			name: "gauge with a nil metric",
			rule: "a gauge with a nil metric gives nothing",
			v2:   &envelope.Envelope{Message: gaugeOf(map[string]*envelope.GaugeValue{"a": {Value: 1}, "name": nil})},
		},
		{
			name: "container gauge",
			rule: "gauge with cpu, memory, disk, memory_quota, disk_quota -> ContainerMetric; source_id -> applicationId; instance_id -> instanceIndex",
			v2:   &envelope.Envelope{SourceId: "some-id", InstanceId: "123", Message: gaugeOf(containerMetrics(nil))},
			want: []*events.Envelope{containerWant(map[string]string{"source_id": "some-id"}, "some-id", 123)},
		},
		{
			name: "container gauge with instance_index",
			rule: "metric instance_index wins over the instance ID; an instance ID that is no integer is 0",
			v2: &envelope.Envelope{InstanceId: "garbage", Message: gaugeOf(containerMetrics(map[string]*envelope.GaugeValue{
				"instance_index": {Value: 19},
			}))},
			want: []*events.Envelope{containerWant(map[string]string{}, "", 19)},
		},
		{
			name: "container names with a zero metric",
			rule: "a container metric whose value is 0 with no unit makes the gauge ValueMetrics",
			v2: &envelope.Envelope{Message: gaugeOf(containerMetrics(map[string]*envelope.GaugeValue{
				"cpu": {},
			}))},
			want: func() []*events.Envelope {
				var out []*events.Envelope
				for _, m := range []struct {
					name, unit string
					value      float64
				}{{"cpu", "", 0}, {"disk", "bytes", 15}, {"disk_quota", "bytes", 19}, {"memory", "bytes", 13}, {"memory_quota", "bytes", 17}} {
					e := emptyBase(events.Envelope_ValueMetric, 0, map[string]string{})
					e.ValueMetric = &events.ValueMetric{Name: proto.String(m.name), Unit: proto.String(m.unit), Value: proto.Float64(m.value)}
					out = append(out, e)
				}
				return out
			}(),
		},
		{
			name: "timer",
			rule: "timer -> HttpStartStop; tags -> request fields; source_id UUID -> applicationId; instance_id -> instanceIndex; forwarded split at newline",
			v2: &envelope.Envelope{
				SourceId: "b3015d69-09cd-476d-aace-ad2d824d5ab7", InstanceId: "10",
				Message:        &envelope.Envelope_Timer{Timer: &envelope.Timer{Name: "http", Start: 99, Stop: 100}},
				DeprecatedTags: httpTags,
			},
			want: []*events.Envelope{httpWant()},
		},
		{
			name: "timer with an integer tag",
			rule: "integer deprecated tags read as their decimal text",
			v2: &envelope.Envelope{
				SourceId: "b3015d69-09cd-476d-aace-ad2d824d5ab7", InstanceId: "10",
				Message:        &envelope.Envelope_Timer{Timer: &envelope.Timer{Name: "http", Start: 99, Stop: 100}},
				DeprecatedTags: withInt(httpTags, "status_code", 200),
			},
			want: []*events.Envelope{httpWant()},
		},
		{
			name: "bare timer",
			rule: "unknown peer_type and method are 0; a source ID that is no UUID leaves applicationId unset; sluice: missing request_id is the zero UUID, no forwarded entries",
			v2: &envelope.Envelope{
				SourceId: "some-id", InstanceId: "garbage",
				Message: &envelope.Envelope_Timer{Timer: &envelope.Timer{Name: "other", Start: 1, Stop: 2}},
				Tags:    map[string]string{"method": "BREW"},
			},
			want: []*events.Envelope{func() *events.Envelope {
				e := emptyBase(events.Envelope_HttpStartStop, 0, map[string]string{"source_id": "some-id"})
				e.HttpStartStop = &events.HttpStartStop{
					StartTimestamp: proto.Int64(1), StopTimestamp: proto.Int64(2),
					RequestId: &events.UUID{Low: proto.Uint64(0), High: proto.Uint64(0)},
					PeerType:  events.PeerType(0).Enum(), Method: events.Method(0).Enum(),
					Uri: proto.String(""), RemoteAddress: proto.String(""), UserAgent: proto.String(""),
					StatusCode: proto.Int32(0), ContentLength: proto.Int64(0), InstanceIndex: proto.Int32(0),
					InstanceId: proto.String(""),
				}
				return e
			}()},
		},
		{
			name: "event",
			rule: "events have no v1 form: nothing",
			v2:   &envelope.Envelope{SourceId: "s", Message: &envelope.Envelope_Event{Event: &envelope.Event{Title: "t", Body: "b"}}},
		},
		{
			name: "no message",
			rule: "an envelope without a message gives nothing",
			v2:   &envelope.Envelope{SourceId: "s"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			original := proto.Clone(tt.v2)
			got := dropsonde.FromV2(tt.v2)
			require.Len(t, got, len(tt.want), tt.rule)
			for i := range tt.want {
				assertProtoEqual(t, tt.want[i], got[i], "%s (envelope %d)", tt.rule, i)
				// Every result is a valid v1 envelope.
				_, err := dropsonde.Decode(mustMarshal(t, got[i]))
				require.NoError(t, err)
			}
			assertProtoEqual(t, original, tt.v2, "FromV2 must not modify its input")
		})
	}
}

// v2 -> v1 -> v2 for the envelopes of go-loggregator's end-to-end tests, in
// the preferred-tags form: each comes back unchanged.
func TestV2RoundTrip(t *testing.T) {
	tags := func(v1Type string, more map[string]string) map[string]string {
		t := map[string]string{
			"deployment": "some-deployment", "ip": "some-ip", "job": "some-job",
			"origin": "some-origin", "index": "some-index", "__v1_type": v1Type,
		}
		for k, v := range more {
			t[k] = v
		}
		return t
	}
	const src = "b3015d69-09cd-476d-aace-ad2d824d5ab7"
	tests := map[string]*envelope.Envelope{
		"timer": {
			Timestamp: 1700000000000000000, SourceId: src, InstanceId: "99",
			Message: &envelope.Envelope_Timer{Timer: &envelope.Timer{Name: "http", Start: 99, Stop: 100}},
			Tags: tags("HttpStartStop", map[string]string{
				"request_id": "954f61c4-ac84-44be-9217-cdfa3117fb41", "peer_type": "Client", "method": "GET",
				"uri": "/hello-world", "remote_address": "10.1.1.0", "user_agent": "Mozilla/5.0", "status_code": "200",
				"content_length": "1000000", "routing_instance_id": "application-id", "forwarded": "6.6.6.6\n8.8.8.8",
			}),
		},
		"log": {
			Timestamp: 1700000000000000000, SourceId: src, InstanceId: "99",
			Message: &envelope.Envelope_Log{Log: &envelope.Log{Payload: []byte("some-payload"), Type: envelope.Log_OUT}},
			Tags:    tags("LogMessage", map[string]string{"source_type": "some-source-type"}),
		},
		"counter": {
			Timestamp: 1700000000000000000, SourceId: src, InstanceId: "99",
			Message: &envelope.Envelope_Counter{Counter: &envelope.Counter{Name: "some-name", Total: 99}},
			Tags:    tags("CounterEvent", nil),
		},
		"gauge": {
			Timestamp: 1700000000000000000, SourceId: src, InstanceId: "99",
			Message: gaugeOf(map[string]*envelope.GaugeValue{
				"cpu": {Unit: "percentage", Value: 0.18079146710267877}, "disk": {Unit: "bytes", Value: 7.9466496e+07},
				"disk_quota": {Unit: "bytes", Value: 1.073741824e+09}, "memory": {Unit: "bytes", Value: 2.5223168e+07},
				"memory_quota": {Unit: "bytes", Value: 2.68435456e+08},
			}),
			Tags: tags("ContainerMetric", nil),
		},
	}
	for name, v2 := range tests {
		t.Run(name, func(t *testing.T) {
			v1 := dropsonde.FromV2(v2)
			require.Len(t, v1, 1)
			assertProtoEqual(t, v2, dropsonde.ToV2(v1[0]))
		})
	}
}
