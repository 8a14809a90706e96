package dropsonde_test

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	"github.com/sluicelog/sluice/diode"
	"github.com/sluicelog/sluice/dropsonde"
	"github.com/sluicelog/sluice/dropsonde/events"
	"github.com/sluicelog/sluice/envelope"
)

func printTags(tags map[string]string) {
	for _, k := range slices.Sorted(maps.Keys(tags)) {
		fmt.Printf("  %s=%q\n", k, tags[k])
	}
}

// A v1 app log converted to v2 as Loggregator's router converts it.
func ExampleToV2() {
	v1 := &events.Envelope{
		Origin:     proto.String("rep"),
		EventType:  events.Envelope_LogMessage.Enum(),
		Timestamp:  proto.Int64(1700000000000000000),
		Deployment: proto.String("cf"),
		Job:        proto.String("diego-cell"),
		LogMessage: &events.LogMessage{
			Message:        []byte("hello"),
			MessageType:    events.LogMessage_OUT.Enum(),
			Timestamp:      proto.Int64(1700000000000000000),
			AppId:          proto.String("6f0e6d3a-app"),
			SourceType:     proto.String("APP/PROC/WEB"),
			SourceInstance: proto.String("0"),
		},
	}
	v2 := dropsonde.ToV2(v1)
	fmt.Println("source:", v2.GetSourceId(), "instance:", v2.GetInstanceId())
	fmt.Printf("log: %s %s\n", v2.GetLog().GetType(), v2.GetLog().GetPayload())
	printTags(v2.GetTags())
	// Output:
	// source: 6f0e6d3a-app instance: 0
	// log: OUT hello
	//   __v1_type="LogMessage"
	//   deployment="cf"
	//   index=""
	//   ip=""
	//   job="diego-cell"
	//   origin="rep"
	//   source_type="APP/PROC/WEB"
}

// A v2 gauge with two metrics becomes two v1 ValueMetrics; an event has no
// v1 form.
func ExampleFromV2() {
	g := envelope.NewGauge("cf/router", []envelope.Metric{
		{Name: "latency", Value: 12.5, Unit: "ms"},
		{Name: "requests", Value: 3, Unit: "req"},
	}, envelope.WithTimestamp(time.Unix(1700000000, 0)))
	g.Tags = map[string]string{"origin": "gorouter"}
	for _, v1 := range dropsonde.FromV2(g) {
		vm := v1.GetValueMetric()
		fmt.Println(v1.GetEventType(), v1.GetOrigin(), vm.GetName(), vm.GetValue(), vm.GetUnit(), v1.GetTags())
	}
	fmt.Println(len(dropsonde.FromV2(envelope.NewEvent("cf/router", "title", "body"))), "for an event")
	// Output:
	// ValueMetric gorouter latency 12.5 ms map[source_id:cf/router]
	// ValueMetric gorouter requests 3 req map[source_id:cf/router]
	// 0 for an event
}

// Wire bytes in, wire bytes out; bad payloads are classified.
func ExamplePayloadToV2() {
	payload, _ := proto.Marshal(&events.Envelope{
		Origin:       proto.String("metron"),
		EventType:    events.Envelope_CounterEvent.Enum(),
		Tags:         map[string]string{"source_id": "doppler", "instance_id": "z1"},
		CounterEvent: &events.CounterEvent{Name: proto.String("ingress"), Delta: proto.Uint64(5), Total: proto.Uint64(105)},
	})
	b, err := dropsonde.PayloadToV2(payload)
	if err != nil {
		panic(err)
	}
	var v2 envelope.Envelope
	_ = proto.Unmarshal(b, &v2)
	c := v2.GetCounter()
	fmt.Println(v2.GetSourceId(), v2.GetInstanceId(), c.GetName(), c.GetDelta(), c.GetTotal())

	_, err = dropsonde.PayloadToV2([]byte("not a v1 envelope"))
	fmt.Println(errors.Is(err, dropsonde.ErrMalformed))
	// Output:
	// doppler z1 ingress 5 105
	// true
}

// An Ingestor beside nothing else on a grpc.Server; a router would register
// an ingress.Server on the same server and buffer.
func ExampleIngestor() {
	buf, _ := diode.NewManyToOne[[]byte](10000)
	ing, err := dropsonde.NewIngestor(buf)
	if err != nil {
		panic(err)
	}
	gs := grpc.NewServer()
	defer gs.Stop()
	ing.Register(gs)
	// go gs.Serve(listener) ... then read v2 wire bytes from buf.
	fmt.Printf("%+v\n", ing.Stats())
	// Output:
	// {Received:0 Converted:{LogMessage:0 ValueMetric:0 CounterEvent:0 ContainerMetric:0 HttpStartStop:0 Error:0} Refused:{Malformed:0 UnsupportedType:0 Closed:0} Dropped:0 RejectedStreams:0 OpenStreams:0}
}
