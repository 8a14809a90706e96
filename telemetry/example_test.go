package telemetry_test

import (
	"fmt"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/proto"

	"github.com/sluicelog/sluice/diode"
	"github.com/sluicelog/sluice/envelope"
	"github.com/sluicelog/sluice/stats"
	"github.com/sluicelog/sluice/telemetry"
)

// Two components count ingress under the same name and tags; a Collector
// registered in the program's own registry keeps them apart by component.
// Real components (ingress.Server, serve.Router, ...) are Reporters
// themselves; here two functions stand in for them.
func Example() {
	var received, published uint64 = 1200, 1197
	server := stats.ReporterFunc(func(emit func(stats.Metric)) {
		emit(stats.CounterOf(stats.Ingress, stats.HelpIngress, received))
		emit(stats.CounterOf(stats.Dropped, stats.HelpDropped, received-published,
			stats.Tag{Key: "direction", Value: "ingress"}, stats.Tag{Key: "cause", Value: "overflow"}))
	})
	router := stats.ReporterFunc(func(emit func(stats.Metric)) {
		emit(stats.CounterOf(stats.Ingress, stats.HelpIngress, published))
	})
	c, err := telemetry.NewCollector([]telemetry.Component{
		{Name: "ingress_server", Reporter: server},
		{Name: "router", Reporter: router},
	}, telemetry.WithLabels(map[string]string{"source_id": "doppler"}))
	if err != nil {
		panic(err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(c)
	// Serve reg with promhttp.HandlerFor(reg, promhttp.HandlerOpts{}); here
	// we print what a scrape would carry.
	mfs, err := reg.Gather()
	if err != nil {
		panic(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == telemetry.DroppedSeries {
			continue
		}
		fmt.Printf("# HELP %s %s\n", mf.GetName(), mf.GetHelp())
		for _, m := range mf.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
			}
			fmt.Printf("%s{%s} %g\n", mf.GetName(), strings.Join(labels, ","), m.GetCounter().GetValue())
		}
	}
	// Output:
	// # HELP dropped Envelopes the component lost, by direction and cause (and shard_id where known).
	// dropped{cause="overflow",component="ingress_server",direction="ingress",source_id="doppler"} 3
	// # HELP ingress Envelopes the component took in.
	// ingress{component="ingress_server",source_id="doppler"} 1200
	// ingress{component="router",source_id="doppler"} 1197
}

// An Emitter writes counter envelopes whose delta is the growth since the
// previous emission: 0 while idle, the new total after a restart. Its sink
// here is a diode an agent would forward; SinkFunc(client.EmitBytes) sends
// through an ingress.Client instead.
func ExampleEmitter() {
	var total uint64 = 1200
	router := stats.ReporterFunc(func(emit func(stats.Metric)) {
		emit(stats.CounterOf(stats.Ingress, stats.HelpIngress, total))
	})
	buf, _ := diode.NewOneToOne[[]byte](100)
	em, err := telemetry.NewEmitter("doppler", buf, []telemetry.Component{{Name: "router", Reporter: router}})
	if err != nil {
		panic(err)
	}
	em.Emit()
	em.Emit() // idle
	total += 300
	em.Emit()
	total = 40 // the router restarted
	em.Emit()
	for {
		b, ok := buf.TryNext()
		if !ok {
			break
		}
		var e envelope.Envelope
		_ = proto.Unmarshal(b, &e)
		c := e.GetCounter()
		fmt.Printf("%s %s{component=%q} delta=%d total=%d\n", e.GetSourceId(), c.GetName(), e.GetTags()["component"], c.GetDelta(), c.GetTotal())
	}
	// Output:
	// doppler ingress{component="router"} delta=1200 total=1200
	// doppler ingress{component="router"} delta=0 total=1200
	// doppler ingress{component="router"} delta=300 total=1500
	// doppler ingress{component="router"} delta=40 total=40
}
