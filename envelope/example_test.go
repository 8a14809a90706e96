package envelope_test

import (
	"fmt"

	"google.golang.org/protobuf/proto"

	"github.com/sluicelog/sluice/envelope"
)

func Example() {
	e := envelope.NewCounter("checkout", "orders", 1, envelope.WithTag("region", "eu"))
	wire, _ := proto.Marshal(e)

	// A router reads only what it routes on.
	r, err := envelope.ReadRoute(wire)
	if err != nil {
		panic(err)
	}
	fmt.Println(r.SourceID, r.Kind, r.Name)

	sel := &envelope.Selector{
		SourceId: "checkout",
		Message:  &envelope.Selector_Counter{Counter: &envelope.CounterSelector{Name: "orders"}},
	}
	fmt.Println(sel.MatchesRoute(&r), sel.Matches(e))
	// Output:
	// checkout counter orders
	// true true
}

func ExampleRequestSelectors() {
	_, err := envelope.RequestSelectors(&envelope.EgressBatchRequest{ShardId: "nozzle"})
	fmt.Println(err)
	// Output: envelope: selectors cannot be empty
}

func ExampleSplitBatch() {
	batch, _ := proto.Marshal(&envelope.Batch{Batch: []*envelope.Envelope{
		envelope.NewLog("a", []byte("one")),
		envelope.NewLog("b", []byte("two")),
	}})
	parts, _ := envelope.SplitBatch(batch, nil)
	for _, p := range parts {
		r, _ := envelope.ReadRoute(p)
		fmt.Println(r.SourceID, r.Kind)
	}
	// Output:
	// a log
	// b log
}
