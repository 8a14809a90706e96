package ingresstest_test

import (
	"context"
	"fmt"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/sluicelog/sluice/envelope"
	"github.com/sluicelog/sluice/ingress/ingresstest"
)

// A stock generated Loggregator client sends a batch; the test waits for
// it and reads what arrived.
func Example() {
	srv, err := ingresstest.NewServer()
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
	_, err = envelope.NewIngressClient(cc).Send(ctx, &envelope.Batch{Batch: []*envelope.Envelope{
		envelope.NewLog("app", []byte("hello")),
		envelope.NewCounter("app", "requests", 3),
	}})
	fmt.Println("send:", err)

	if err := srv.WaitFor(ctx, 2); err != nil {
		panic(err)
	}
	for _, e := range srv.Envelopes() {
		fmt.Println(e.GetSourceId(), e.Kind())
	}
	c := srv.Counts()
	fmt.Println("Send calls:", c.Send.Calls, "envelopes:", c.Send.Envelopes)
	// Output:
	// send: <nil>
	// app log
	// app counter
	// Send calls: 1 envelopes: 2
}

// A server that answers as Loggregator's router: the end of a BatchSender
// stream is answered Unknown "EOF" after every envelope on it arrived, and
// Send is Unimplemented.
func ExampleWithLoggregatorAnswers() {
	srv, err := ingresstest.NewServer(ingresstest.WithLoggregatorAnswers())
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
	client := envelope.NewIngressClient(cc)

	st, err := client.BatchSender(ctx)
	if err != nil {
		panic(err)
	}
	_ = st.Send(&envelope.Batch{Batch: []*envelope.Envelope{envelope.NewLog("app", []byte("x"))}})
	_, err = st.CloseAndRecv()
	fmt.Println("batch sender:", err)

	_, err = client.Send(ctx, &envelope.Batch{Batch: []*envelope.Envelope{envelope.NewLog("app", []byte("y"))}})
	fmt.Println("send:", err)
	fmt.Println("received:", srv.Count())
	// Output:
	// batch sender: rpc error: code = Unknown desc = EOF
	// send: rpc error: code = Unimplemented desc = method Send not implemented
	// received: 1
}
