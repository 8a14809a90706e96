package nozzle_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/sluicelog/sluice/discovery"
	"github.com/sluicelog/sluice/envelope"
	"github.com/sluicelog/sluice/nozzle"
)

// Read every log of one application from a proxy, with a shard ID so that
// several instances of this nozzle share the work.
func ExampleReader() {
	r, err := nozzle.NewReader("rlp.internal:8082", &envelope.EgressBatchRequest{
		ShardId: "my-nozzle",
		Selectors: []*envelope.Selector{
			{SourceId: "app-guid", Message: &envelope.Selector_Log{Log: &envelope.LogSelector{}}},
		},
	}, nozzle.WithBackoff(100*time.Millisecond, 10*time.Second))
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for e, err := range r.Envelopes(ctx) {
		if sc, ok := errors.AsType[*nozzle.SlowConsumerError](err); ok {
			log.Printf("too slow: %v", sc)
			continue
		}
		if err != nil {
			break // ctx ended
		}
		fmt.Printf("%s\n", e.GetLog().GetPayload())
	}
}

// A nozzle instance that reads from every router that discovery knows:
// what a reverse log proxy does on its behalf.
func ExampleFirehose() {
	routers := discovery.NewStatic(
		discovery.Endpoint{Addr: "10.0.0.5:8082", Zone: "z1"},
		discovery.Endpoint{Addr: "10.0.1.5:8082", Zone: "z2"},
	)
	f, err := nozzle.NewFirehose(routers, &envelope.EgressBatchRequest{
		ShardId:   "metrics-nozzle",
		Selectors: []*envelope.Selector{{Message: &envelope.Selector_Gauge{Gauge: &envelope.GaugeSelector{}}}},
	}, nozzle.WithSlowConsumer(func(e *nozzle.SlowConsumerError) {
		log.Printf("scale out: %v", e) // on a stream goroutine: keep it short
	}))
	if err != nil {
		log.Fatal(err)
	}
	defer f.Shutdown(context.Background())

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for {
		b, err := f.Next(ctx) // wire bytes: route without decoding
		if err != nil {
			break
		}
		if r, err := envelope.ReadRoute(b); err == nil {
			fmt.Println(r.SourceID)
		}
	}
}

// The gateway's query for a request: the kinds and sources it asks for.
func ExampleGatewayQuery() {
	q, err := nozzle.GatewayQuery(&envelope.EgressBatchRequest{
		ShardId: "ext-nozzle",
		Selectors: []*envelope.Selector{
			{SourceId: "app-1", Message: &envelope.Selector_Log{Log: &envelope.LogSelector{}}},
			{SourceId: "app-1", Message: &envelope.Selector_Counter{Counter: &envelope.CounterSelector{Name: "requests"}}},
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("/v2/read?" + q.Encode())
	// Output: /v2/read?counter=&counter.name=requests&log=&shard_id=ext-nozzle&source_id=app-1
}

func ExampleSlowConsumerError() {
	var err error = &nozzle.SlowConsumerError{Dropped: 250, Episode: 3}
	fmt.Println(errors.Is(err, nozzle.ErrSlowConsumer))
	fmt.Println(err)
	// Output:
	// true
	// nozzle: slow consumer, 250 envelopes dropped (episode 3)
}
