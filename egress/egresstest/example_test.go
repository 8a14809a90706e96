package egresstest_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/sluicelog/sluice/egress/egresstest"
	"github.com/sluicelog/sluice/envelope"
)

// A server that plays three envelopes to every subscriber and then ends
// the stream; a stock generated client asks for the counters of "app" and
// reads what matches.
func Example() {
	srv, err := egresstest.NewServer(
		egresstest.WithEnvelopes(
			envelope.NewLog("app", []byte("hello")),
			envelope.NewCounter("app", "requests", 3),
			envelope.NewCounter("other", "requests", 5),
		),
		egresstest.WithEndAfterPlay(nil),
	)
	if err != nil {
		panic(err)
	}
	defer srv.Close()

	cc, err := grpc.NewClient(srv.Addr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		panic(err)
	}
	defer cc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	stream, err := envelope.NewEgressClient(cc).BatchedReceiver(ctx, &envelope.EgressBatchRequest{
		ShardId:   "my-nozzle",
		Selectors: []*envelope.Selector{{SourceId: "app", Message: &envelope.Selector_Counter{Counter: &envelope.CounterSelector{}}}},
	})
	if err != nil {
		panic(err)
	}
	for {
		b, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			panic(err)
		}
		for _, e := range b.GetBatch() {
			fmt.Println(e.GetSourceId(), e.GetCounter().GetName(), e.GetCounter().GetDelta())
		}
	}
	r := srv.Requests()[0]
	fmt.Println(r.Method, r.GetShardId(), "sent:", srv.Sent())
	// Output:
	// app requests 3
	// BatchedReceiver my-nozzle sent: 1
}

// Publish sends to the subscribers open now: wait for them first.
func ExampleServer_Publish() {
	srv, err := egresstest.NewServer()
	if err != nil {
		panic(err)
	}
	defer srv.Close()
	cc, err := grpc.NewClient(srv.Addr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		panic(err)
	}
	defer cc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	stream, err := envelope.NewEgressClient(cc).Receiver(ctx, &envelope.EgressRequest{
		Selectors: []*envelope.Selector{{Message: &envelope.Selector_Log{Log: &envelope.LogSelector{}}}},
	})
	if err != nil {
		panic(err)
	}
	if err := srv.WaitSubscribers(ctx, 1); err != nil {
		panic(err)
	}
	if err := srv.Publish(ctx, envelope.NewLog("a", []byte("one")), envelope.NewEvent("a", "skipped", ""), envelope.NewLog("b", []byte("two"))); err != nil {
		panic(err)
	}
	for range 2 {
		e, err := stream.Recv()
		if err != nil {
			panic(err)
		}
		fmt.Printf("%s %s\n", e.GetSourceId(), e.GetLog().GetPayload())
	}
	srv.EndStreams(nil)
	_, err = stream.Recv()
	fmt.Println(err)
	// Output:
	// a one
	// b two
	// EOF
}
