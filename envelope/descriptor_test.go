package envelope_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/sluicelog/sluice/envelope"
)

// describe renders a message's fields as "name=number:type[:oneof]" lines so
// the whole wire contract of docs/architecture.md can be checked as text.
func describe(md protoreflect.MessageDescriptor) string {
	var lines []string
	fields := md.Fields()
	for i := 0; i < fields.Len(); i++ {
		f := fields.Get(i)
		typ := f.Kind().String()
		switch {
		case f.IsMap():
			typ = fmt.Sprintf("map<%s,%s>", kindName(f.MapKey()), kindName(f.MapValue()))
		case f.Kind() == protoreflect.MessageKind || f.Kind() == protoreflect.EnumKind:
			typ = kindName(f)
		}
		if f.Cardinality() == protoreflect.Repeated && !f.IsMap() {
			typ = "repeated " + typ
		}
		line := fmt.Sprintf("%s=%d:%s", f.Name(), f.Number(), typ)
		if o := f.ContainingOneof(); o != nil {
			line += ":oneof " + string(o.Name())
		}
		if f.JSONName() != string(f.Name()) {
			line += ":json " + f.JSONName()
		}
		lines = append(lines, line)
	}
	return strings.Join(lines, "\n")
}

func kindName(f protoreflect.FieldDescriptor) string {
	switch f.Kind() {
	case protoreflect.MessageKind:
		return string(f.Message().FullName())
	case protoreflect.EnumKind:
		return string(f.Enum().FullName())
	}
	return f.Kind().String()
}

func TestDescriptorsMatchWireContract(t *testing.T) {
	egressReq := `shard_id=1:string:json shardId
legacy_selector=2:loggregator.v2.Selector:json legacySelector
selectors=4:repeated loggregator.v2.Selector
use_preferred_tags=3:bool:json usePreferredTags
deterministic_name=5:string:json deterministicName`
	want := map[string]string{
		"Envelope": `timestamp=1:int64
source_id=2:string
instance_id=8:string
deprecated_tags=3:map<string,loggregator.v2.Value>
tags=9:map<string,string>
log=4:loggregator.v2.Log:oneof message
counter=5:loggregator.v2.Counter:oneof message
gauge=6:loggregator.v2.Gauge:oneof message
timer=7:loggregator.v2.Timer:oneof message
event=10:loggregator.v2.Event:oneof message`,
		"EnvelopeBatch": `batch=1:repeated loggregator.v2.Envelope`,
		"Value": `text=1:string:oneof data
integer=2:int64:oneof data
decimal=3:double:oneof data`,
		"Log":                 "payload=1:bytes\ntype=2:loggregator.v2.Log.Type",
		"Counter":             "name=1:string\ndelta=2:uint64\ntotal=3:uint64",
		"Gauge":               "metrics=1:map<string,loggregator.v2.GaugeValue>",
		"GaugeValue":          "unit=1:string\nvalue=2:double",
		"Timer":               "name=1:string\nstart=2:int64\nstop=3:int64",
		"Event":               "title=1:string\nbody=2:string",
		"EgressRequest":       egressReq,
		"EgressBatchRequest":  egressReq,
		"IngressResponse":     "",
		"BatchSenderResponse": "",
		"SendResponse":        "",
		"Selector": `source_id=1:string:json sourceId
log=2:loggregator.v2.LogSelector:oneof Message
counter=3:loggregator.v2.CounterSelector:oneof Message
gauge=4:loggregator.v2.GaugeSelector:oneof Message
timer=5:loggregator.v2.TimerSelector:oneof Message
event=6:loggregator.v2.EventSelector:oneof Message`,
		"LogSelector":     "",
		"CounterSelector": "name=1:string",
		"GaugeSelector":   "names=1:repeated string",
		"TimerSelector":   "",
		"EventSelector":   "",
	}
	files := []protoreflect.FileDescriptor{
		envelope.File_envelope_proto, envelope.File_ingress_proto, envelope.File_egress_proto,
	}
	seen := map[string]bool{}
	for _, fd := range files {
		assert.Equal(t, protoreflect.FullName("loggregator.v2"), fd.Package())
		for i := 0; i < fd.Messages().Len(); i++ {
			md := fd.Messages().Get(i)
			name := string(md.Name())
			w, ok := want[name]
			if !assert.True(t, ok, "unexpected message %s", name) {
				continue
			}
			seen[name] = true
			assert.Equal(t, w, describe(md), "message %s", name)
		}
	}
	for name := range want {
		assert.True(t, seen[name], "message %s missing", name)
	}

	typ := envelope.File_envelope_proto.Messages().ByName("Log").Enums().ByName("Type")
	require.NotNil(t, typ)
	assert.Equal(t, protoreflect.EnumNumber(0), typ.Values().ByName("OUT").Number())
	assert.Equal(t, protoreflect.EnumNumber(1), typ.Values().ByName("ERR").Number())
	assert.Equal(t, 2, typ.Values().Len())
}

func TestServices(t *testing.T) {
	type method struct {
		in, out        string
		client, server bool
	}
	check := func(fd protoreflect.FileDescriptor, svc string, want map[string]method) {
		sd := fd.Services().ByName(protoreflect.Name(svc))
		require.NotNil(t, sd, svc)
		assert.Equal(t, protoreflect.FullName("loggregator.v2."+svc), sd.FullName())
		assert.Equal(t, len(want), sd.Methods().Len())
		for name, w := range want {
			m := sd.Methods().ByName(protoreflect.Name(name))
			if !assert.NotNil(t, m, name) {
				continue
			}
			assert.Equal(t, "loggregator.v2."+w.in, string(m.Input().FullName()), name)
			assert.Equal(t, "loggregator.v2."+w.out, string(m.Output().FullName()), name)
			assert.Equal(t, w.client, m.IsStreamingClient(), name+" client streaming")
			assert.Equal(t, w.server, m.IsStreamingServer(), name+" server streaming")
		}
	}
	check(envelope.File_ingress_proto, "Ingress", map[string]method{
		"Sender":      {"Envelope", "IngressResponse", true, false},
		"BatchSender": {"EnvelopeBatch", "BatchSenderResponse", true, false},
		"Send":        {"EnvelopeBatch", "SendResponse", false, false},
	})
	check(envelope.File_egress_proto, "Egress", map[string]method{
		"Receiver":        {"EgressRequest", "Envelope", false, true},
		"BatchedReceiver": {"EgressBatchRequest", "EnvelopeBatch", false, true},
	})
	assert.Equal(t, "/loggregator.v2.Ingress/BatchSender", envelope.Ingress_BatchSender_FullMethodName)
	assert.Equal(t, "/loggregator.v2.Egress/BatchedReceiver", envelope.Egress_BatchedReceiver_FullMethodName)
}
