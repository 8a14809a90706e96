package forward_test

import (
	"context"
	"fmt"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"

	"github.com/sluicelog/sluice/diode"
	"github.com/sluicelog/sluice/discovery"
	"github.com/sluicelog/sluice/egress/forward"
	"github.com/sluicelog/sluice/envelope"
	"github.com/sluicelog/sluice/ingress"
	"github.com/sluicelog/sluice/ingress/ingresstest"
)

// An agent: an ingress server writing into a diode, a Forwarder batching
// the diode into a Pool, the Pool streaming to the routers discovery
// knows (here one ingresstest server standing in for a router). An emitter
// sends three envelopes with Loggregator's generated client; the agent is
// then shut down in the order the envelopes flow, and every counter
// balances. (Plaintext for the example; use WithTLS on each part in
// production.)
func Example() {
	router, err := ingresstest.NewServer()
	if err != nil {
		panic(err)
	}
	defer router.Close()

	// The agent.
	buf, err := diode.NewManyToOne[[]byte](10000)
	if err != nil {
		panic(err)
	}
	in, err := ingress.NewServer(buf)
	if err != nil {
		panic(err)
	}
	addr, err := in.Start("127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	pool, err := forward.NewPool(discovery.NewStatic(discovery.Endpoint{Addr: router.Addr(), Zone: "z1"}), forward.WithZone("z1"))
	if err != nil {
		panic(err)
	}
	fwd, err := forward.NewForwarder(buf, pool, forward.WithBatch(100, 10*time.Millisecond))
	if err != nil {
		panic(err)
	}
	runCtx, stopForwarder := context.WithCancel(context.Background())
	forwarded := make(chan error, 1)
	go func() { forwarded <- fwd.Run(runCtx) }()

	// An emitter.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cc, err := grpc.NewClient(addr.String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		panic(err)
	}
	_, err = envelope.NewIngressClient(cc).Send(ctx, &envelope.Batch{Batch: []*envelope.Envelope{
		envelope.NewLog("app", []byte("one")),
		envelope.NewLog("app", []byte("two")),
		envelope.NewCounter("app", "requests", 1),
	}})
	cc.Close()
	fmt.Println("emitted:", err)

	// Shutdown, in the order the envelopes flow:
	// 1. the ingress server stops accepting (what it accepted is in buf);
	if err := in.Shutdown(ctx); err != nil {
		panic(err)
	}
	// 2. the forwarder drains buf into the pool: cancel Run and wait;
	stopForwarder()
	if err := <-forwarded; err != nil {
		panic(err)
	}
	// 3. the pool closes its streams gracefully; the router confirms them.
	if err := pool.Shutdown(ctx); err != nil {
		panic(err)
	}

	bs, fs := buf.Stats(), fwd.Stats()
	fmt.Println("diode: written", bs.Written, "dropped", bs.Dropped)
	fmt.Println("forwarder: read", fs.Read, "egress", fs.Egress, "dropped", len(fs.Dropped))
	fmt.Println("router received:", router.Count())
	// Output:
	// emitted: <nil>
	// diode: written 3 dropped 0
	// forwarder: read 3 egress 3 dropped 0
	// router received: 3
}

// A Pool used directly: in acknowledged mode each batch's outcome says
// whether a router confirmed it.
func ExamplePool() {
	router, err := ingresstest.NewServer()
	if err != nil {
		panic(err)
	}
	defer router.Close()
	pool, err := forward.NewPool(discovery.NewStatic(discovery.Endpoint{Addr: router.Addr()}),
		forward.WithMode(forward.Acknowledged), forward.WithStreams(1))
	if err != nil {
		panic(err)
	}
	defer pool.Close()

	var batch [][]byte
	for i := range 4 {
		b, err := proto.Marshal(envelope.NewLog("app", fmt.Appendf(nil, "line %d", i)))
		if err != nil {
			panic(err)
		}
		batch = append(batch, b)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	results := make(chan forward.PoolResult, 1)
	if err := pool.Write(ctx, batch, func(r forward.PoolResult) { results <- r }); err != nil {
		panic(err)
	}
	r := <-results
	fmt.Println("sent:", r.Sent, "envelopes:", len(r.Batch))
	fmt.Println("router received:", router.Count())

	if err := pool.Shutdown(ctx); err != nil {
		panic(err)
	}
	st := pool.Stats()
	fmt.Println("pool sent:", st.Sent, "writes:", st.Writes)
	// Output:
	// sent: true envelopes: 4
	// router received: 4
	// pool sent: 4 writes: 1
}
