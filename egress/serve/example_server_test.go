package serve_test

import (
	"context"
	"fmt"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/sluicelog/sluice/diode"
	"github.com/sluicelog/sluice/egress/serve"
	"github.com/sluicelog/sluice/envelope"
	"github.com/sluicelog/sluice/ingress"
)

// waitUntil checks cond every millisecond until it holds or ctx ends.
func waitUntil(ctx context.Context, cond func() bool) error {
	t := time.NewTicker(time.Millisecond)
	defer t.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	return nil
}

// A router process: an ingress server writing into a diode, a Router
// publishing what the diode holds, an Egress Server serving the Router's
// subscriptions. A nozzle subscribes with Loggregator's generated client,
// an emitter sends, and the router shuts down in the order the envelopes
// flow. (Plaintext for the example; use WithTLS in production.)
func ExampleServer() {
	buf, err := diode.NewManyToOne[[]byte](10000)
	if err != nil {
		panic(err)
	}
	in, err := ingress.NewServer(buf)
	if err != nil {
		panic(err)
	}
	inAddr, err := in.Start("127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	rt, err := serve.NewRouter()
	if err != nil {
		panic(err)
	}
	out, err := serve.NewServer(rt)
	if err != nil {
		panic(err)
	}
	outAddr, err := out.Start("127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	runCtx, stopRouter := context.WithCancel(context.Background())
	routed := make(chan error, 1)
	go func() { routed <- rt.Run(runCtx, buf) }()

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	// A nozzle subscribes to the logs of "app".
	nozzleConn, err := grpc.NewClient(outAddr.String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		panic(err)
	}
	defer nozzleConn.Close()
	stream, err := envelope.NewEgressClient(nozzleConn).BatchedReceiver(ctx, &envelope.EgressBatchRequest{
		ShardId:   "my-nozzle",
		Selectors: []*envelope.Selector{{SourceId: "app", Message: &envelope.Selector_Log{Log: &envelope.LogSelector{}}}},
	})
	if err != nil {
		panic(err)
	}
	if err := waitUntil(ctx, func() bool { return rt.Stats().Subscriptions == 1 }); err != nil {
		panic(err)
	}

	// An emitter sends two logs of "app" and one of another app.
	emitterConn, err := grpc.NewClient(inAddr.String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		panic(err)
	}
	_, err = envelope.NewIngressClient(emitterConn).Send(ctx, &envelope.Batch{Batch: []*envelope.Envelope{
		envelope.NewLog("app", []byte("one")),
		envelope.NewLog("other", []byte("not selected")),
		envelope.NewLog("app", []byte("two")),
	}})
	emitterConn.Close()
	if err != nil {
		panic(err)
	}

	for got := 0; got < 2; {
		b, err := stream.Recv()
		if err != nil {
			panic(err)
		}
		for _, e := range b.GetBatch() {
			fmt.Printf("%s: %s\n", e.GetSourceId(), e.GetLog().GetPayload())
			got++
		}
	}

	// Shutdown, in the order the envelopes flow: stop accepting, let the
	// Router publish what the diode still holds, let the Server send what
	// the subscriptions hold and end its streams, then close the Router.
	if err := in.Shutdown(ctx); err != nil {
		panic(err)
	}
	stopRouter()
	<-routed // Run returns its context's error
	if err := out.Shutdown(ctx); err != nil {
		panic(err)
	}
	_, err = stream.Recv() // Unavailable: a nozzle reconnects, to another router
	fmt.Println("stream:", err)
	_ = rt.Close()

	rs, ss := rt.Stats(), out.Stats()
	fmt.Println("router ingress", rs.Ingress, "egress", rs.Egress, "dropped", rs.Dropped.Total())
	fmt.Println("server egress", ss.Egress)
	// Output:
	// app: one
	// app: two
	// stream: rpc error: code = Unavailable desc = serve: server shutting down
	// router ingress 3 egress 2 dropped 0
	// server egress 2
}
