package harness_test

import (
	"context"
	"fmt"
	"time"

	"github.com/sluicelog/sluice/harness"
)

// The benchmark pattern: start the pipeline once, send n envelopes with the
// generated client, wait until every one is delivered or counted dropped
// (never sleep for a fixed time), then check the books. In a benchmark n is
// b.N and the timer runs around Send and Wait:
//
//	p, _ := harness.StartPipeline(ctx)
//	defer p.Close()
//	b.ResetTimer()
//	harness.Send(ctx, p.Agent.Addr(), harness.BenchBatch(100), b.N)
//	p.Wait(ctx, uint64(b.N))
//	b.StopTimer()
//
// as BenchmarkPipeline does (go test -run '^$' -bench Pipeline -benchmem
// ./harness).
func Example_benchmark() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	p, err := harness.StartPipeline(ctx)
	if err != nil {
		panic(err)
	}
	defer p.Close()

	const n = 1000 // b.N
	if err := harness.Send(ctx, p.Agent.Addr(), harness.BenchBatch(100), n); err != nil {
		panic(err)
	}
	if err := p.Wait(ctx, n); err != nil {
		panic(err)
	}
	fmt.Println("sent", n, "delivered", p.Delivered(), "dropped", p.Dropped())
	// Output:
	// sent 1000 delivered 1000 dropped 0
}
