package serve

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/sluicelog/sluice/envelope"
	"github.com/sluicelog/sluice/internal/wire"
)

// BenchmarkEgressServer measures envelopes per second from a Router through
// a Server to one BatchedReceiver client over loopback (plaintext): b.N
// envelopes are published as fast as the router takes them; the client
// reads until every one is received or counted as dropped.
func BenchmarkEgressServer(b *testing.B) {
	r, err := NewRouter(WithSubscriptionDiode(10_000))
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	srv, err := NewServer(r)
	if err != nil {
		b.Fatal(err)
	}
	addr, err := srv.Start("127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	cc, err := grpc.NewClient(addr.String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		b.Fatal(err)
	}
	defer cc.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stream, err := wire.OpenBatchedReceiver(ctx, cc, &envelope.EgressBatchRequest{Selectors: []*envelope.Selector{routerTestLogs("")}})
	if err != nil {
		b.Fatal(err)
	}
	for r.Stats().Subscriptions != 1 {
		time.Sleep(time.Millisecond)
	}
	env := routerTestMarshal(b, benchServerEnvelope())

	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range b.N {
			if err := r.Publish(env); err != nil {
				b.Error(err)
				return
			}
		}
	}()
	var received atomic.Int64
	recvDone := make(chan struct{})
	go func() {
		defer close(recvDone)
		var msg wire.Batch
		for {
			if err := stream.RecvMsg(&msg); err != nil {
				return // the benchmark cancels the stream when done
			}
			if err := msg.Split(); err != nil {
				b.Error(err)
				return
			}
			received.Add(int64(len(msg.Envelopes)))
		}
	}()
	<-done
	// Wait until every envelope is received or counted as dropped.
	for uint64(received.Load())+r.Stats().Shards[""].Dropped.Total() < uint64(b.N) {
		time.Sleep(100 * time.Microsecond)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	cancel()
	<-recvDone
	got := received.Load()
	b.ReportMetric(float64(got)/elapsed.Seconds(), "env/s")
	b.ReportMetric(float64(int64(b.N)-got), "dropped")
}

func benchServerEnvelope() *envelope.Envelope {
	return envelope.NewLog("9f1c2b7e-6a41-4d3e-8c55-0b7a2e19d4f3", make([]byte, 100),
		envelope.WithInstanceID("0"), envelope.WithTag("deployment", "cf"), envelope.WithTag("job", "diego-cell"), envelope.WithTag("index", "5d3e1f2a"))
}
