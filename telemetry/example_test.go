package telemetry_test

import (
	"fmt"

	"google.golang.org/protobuf/proto"

	"github.com/sluicelog/sluice/diode"
	"github.com/sluicelog/sluice/envelope"
	"github.com/sluicelog/sluice/telemetry"
)

// A component's stats become Loggregator-style envelopes in a buffer of the
// user's choice, here a diode that an agent would forward.
func Example() {
	var accepted, dropped uint64 = 1200, 3
	stats := telemetry.SourceFunc(func(dst []telemetry.Metric) []telemetry.Metric {
		return append(dst,
			telemetry.Metric{Name: "ingress", Kind: telemetry.Counter, Value: float64(accepted)},
			telemetry.Metric{Name: "dropped", Kind: telemetry.Counter, Value: float64(dropped), Tags: map[string]string{"direction": "ingress"}},
		)
	})
	buf, _ := diode.NewOneToOne[[]byte](100)
	em, _ := telemetry.NewEmitter("doppler", stats, buf)
	em.Emit()
	accepted += 300
	em.Emit()
	for {
		b, ok := buf.TryNext()
		if !ok {
			break
		}
		var e envelope.Envelope
		_ = proto.Unmarshal(b, &e)
		c := e.GetCounter()
		fmt.Printf("%s %s{direction=%q} delta=%d total=%d\n", e.GetSourceId(), c.GetName(), e.GetTags()["direction"], c.GetDelta(), c.GetTotal())
	}
	// Output:
	// doppler ingress{direction=""} delta=1200 total=1200
	// doppler dropped{direction="ingress"} delta=3 total=3
	// doppler ingress{direction=""} delta=300 total=1500
	// doppler dropped{direction="ingress"} delta=0 total=3
}
