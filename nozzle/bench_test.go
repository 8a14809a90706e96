package nozzle_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/sluicelog/sluice/discovery"
	"github.com/sluicelog/sluice/egress/egresstest"
	"github.com/sluicelog/sluice/envelope"
	"github.com/sluicelog/sluice/internal/testtls"
	"github.com/sluicelog/sluice/nozzle"
)

// BenchmarkFirehose measures envelopes per second through two routers and
// one Firehose over loopback gRPC with mutual TLS, read with the raw Next.
//
// routers: real serve.Router + serve.Server pairs, published to directly
// (no agents) and paced so that at most 8,000 envelopes are between the
// publishers and the consumer, so nothing is dropped and the figure is
// lossless throughput.
//
// standin: stand-in routers that send one prepared 100-envelope batch over
// and over, which isolates the nozzle side (receive, split, buffer, Next).
func BenchmarkFirehose(b *testing.B) {
	b.Run("routers", benchFirehoseRouters)
	b.Run("standin", benchFirehoseStandin)
}

func benchFirehoseRouters(b *testing.B) {
	_, serverTLS, clientTLS := testtls.Must(b)
	r1, r2 := startRouter(b, serverTLS), startRouter(b, serverTLS)
	f, err := nozzle.NewFirehose(discovery.NewStatic(discovery.Endpoint{Addr: r1.outAddr}, discovery.Endpoint{Addr: r2.outAddr}),
		logRequest("bench"), nozzle.WithTLS(clientTLS))
	if err != nil {
		b.Fatal(err)
	}
	r1.waitSubscriptions(1)
	r2.waitSubscriptions(1)
	env, err := proto.Marshal(envelope.NewLog("bench", []byte("a log line of a typical length, with some words in it"), envelope.WithTag("k", "v")))
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var published, consumed atomic.Int64
	for _, r := range []*router{r1, r2} {
		r.mu.Lock()
		rt := r.rt
		r.mu.Unlock()
		wg.Go(func() {
			for ctx.Err() == nil {
				if published.Load()-consumed.Load() > 8000 {
					time.Sleep(50 * time.Microsecond)
					continue
				}
				for range 100 {
					rt.Publish(env)
				}
				published.Add(100)
			}
		})
	}
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for i := range b.N {
		if _, err := f.Next(ctx); err != nil {
			b.Fatal(err)
		}
		if i%64 == 0 {
			consumed.Store(int64(i))
		}
	}
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "env/s")
	cancel()
	wg.Wait()
	f.Close()
	st := f.Stats()
	b.ReportMetric(float64(st.Dropped[nozzle.CauseOverflow])/float64(b.N), "dropped/op")
}

func benchFirehoseStandin(b *testing.B) {
	_, serverTLS, clientTLS := testtls.Must(b)
	r1, r2 := startFakeRouter(b, serverTLS), startFakeRouter(b, serverTLS)
	f, err := nozzle.NewFirehose(discovery.NewStatic(ep(r1), ep(r2)), logRequest("bench"), nozzle.WithTLS(clientTLS))
	if err != nil {
		b.Fatal(err)
	}
	waitSubs(b, r1, 1)
	waitSubs(b, r2, 1)
	batch := seqBatch(b, "bench", 0, 100)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, r := range []*egresstest.Server{r1, r2} {
		wg.Go(func() {
			for r.PublishBytes(ctx, batch) == nil {
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
	b.ReportMetric(float64(st.Dropped[nozzle.CauseOverflow])/float64(b.N), "dropped/op")
}
