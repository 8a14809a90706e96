package nozzle_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/sluicelog/sluice/discovery"
	"github.com/sluicelog/sluice/internal/testtls"
	"github.com/sluicelog/sluice/nozzle"
)

// BenchmarkFirehose measures envelopes per second through two routers and
// one Firehose over loopback gRPC with mutual TLS. The routers are stand-ins
// that send one prepared 100-envelope batch over and over (as fast as the
// stream takes it), so what is measured is the nozzle side: receive, split,
// buffer, and the consumer's raw Next.
func BenchmarkFirehose(b *testing.B) {
	_, serverTLS, clientTLS := testtls.Must(b)
	r1, r2 := startFakeRouter(b, serverTLS), startFakeRouter(b, serverTLS)
	f, err := nozzle.NewFirehose(discovery.NewStatic(ep(r1), ep(r2)), logRequest("bench"), nozzle.WithTLS(clientTLS))
	if err != nil {
		b.Fatal(err)
	}
	r1.waitSubs(1)
	r2.waitSubs(1)
	batch := seqBatch(b, "bench", 0, 100)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, r := range []*fakeRouter{r1, r2} {
		wg.Go(func() {
			for ctx.Err() == nil {
				r.publish(batch)
			}
		})
	}
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		if _, err := f.Next(ctx); err != nil {
			b.Fatal(err)
		}
	}
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "env/s")
	cancel()
	f.Close()
	wg.Wait()
	st := f.Stats()
	b.ReportMetric(float64(st.Dropped)/float64(b.N), "dropped/op")
}
