package harness_test

import (
	"context"
	"testing"
	"time"

	"github.com/sluicelog/sluice/harness"
)

// The two benchmarks send the same batches (100 BenchEnvelopes) with the
// same generated gRPC client. BenchmarkGRPCBaseline's one hop unmarshals
// them; BenchmarkPipeline carries them as wire bytes through an agent and a
// router to a subscriber. Run them side by side:
//
//	go test -run '^$' -bench 'Pipeline|GRPCBaseline' -benchmem ./harness

func BenchmarkPipeline(b *testing.B) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	p, err := harness.StartPipeline(ctx)
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	batch := harness.BenchBatch(100)
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	if err := harness.Send(ctx, p.Agent.Addr(), batch, b.N); err != nil {
		b.Fatal(err)
	}
	if err := p.Wait(ctx, uint64(b.N)); err != nil {
		b.Fatalf("delivered %d + dropped %d of %d: %v", p.Delivered(), p.Dropped(), b.N, err)
	}
	elapsed := time.Since(start).Seconds()
	b.StopTimer()
	if got := p.Delivered() + p.Dropped(); got != uint64(b.N) {
		b.Fatalf("accounting: delivered %d + dropped %d != sent %d", p.Delivered(), p.Dropped(), b.N)
	}
	b.ReportMetric(float64(p.Delivered())/elapsed, "env/s")
	b.ReportMetric(float64(p.Dropped())/elapsed, "dropped/s")
}

func BenchmarkGRPCBaseline(b *testing.B) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	srv, err := harness.StartBaseline()
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Stop()
	batch := harness.BenchBatch(100)
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	// The server's answer at the end of the stream means it has
	// unmarshaled and counted every batch.
	if err := harness.Send(ctx, srv.Addr(), batch, b.N); err != nil {
		b.Fatal(err)
	}
	elapsed := time.Since(start).Seconds()
	b.StopTimer()
	if got := srv.Received(); got != int64(b.N) {
		b.Fatalf("baseline received %d of %d", got, b.N)
	}
	b.ReportMetric(float64(b.N)/elapsed, "env/s")
	b.ReportMetric(0, "dropped/s")
}
