package ingress_test

import (
	"context"
	"fmt"
	"net"
	"time"

	"google.golang.org/grpc"

	"github.com/sluicelog/sluice/diode"
	"github.com/sluicelog/sluice/envelope"
	"github.com/sluicelog/sluice/ingress"
)

// A server on loopback feeding a diode, and a client emitting into it.
// (Plaintext for the example; use WithTLS in production.)
func Example() {
	buf, _ := diode.NewManyToOne[[]byte](10000)
	srv, _ := ingress.NewServer(buf)
	addr, err := srv.Start("127.0.0.1:0")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Close()

	client, _ := ingress.NewClient(addr.String())
	for i := range 3 {
		client.Emit(envelope.NewLog("app", fmt.Appendf(nil, "line %d", i)))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = client.Shutdown(ctx) // flushes and waits for the server's answer

	st := client.Stats()
	fmt.Println("emitted", st.Emitted, "confirmed", st.Confirmed, "dropped", st.Dropped.Total())
	fmt.Println("server ingress", srv.Stats().Ingress)
	for {
		b, ok := buf.TryNext()
		if !ok {
			break
		}
		route, _ := envelope.ReadRoute(b) // wire bytes: read only what you need
		fmt.Println(route.SourceID, route.Kind)
	}
	// Output:
	// emitted 3 confirmed 3 dropped 0
	// server ingress 3
	// app log
	// app log
	// app log
}

// Counting drops without a server: what cannot be delivered before
// Shutdown's ctx ends is counted "shutdown", and an Emit after Shutdown
// "closed".
func ExampleClient_Shutdown() {
	client, _ := ingress.NewClient("127.0.0.1:1", ingress.WithBackoff(time.Millisecond, 10*time.Millisecond))
	client.Emit(envelope.NewCounter("app", "requests", 1))
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	fmt.Println(client.Shutdown(ctx))
	client.Emit(envelope.NewCounter("app", "requests", 1))
	st := client.Stats()
	fmt.Printf("emitted %d, shutdown %d, closed %d\n", st.Emitted, st.Dropped[ingress.CauseShutdown], st.Dropped[ingress.CauseClosed])
	// Output:
	// context deadline exceeded
	// emitted 2, shutdown 1, closed 1
}

// Ingress on a grpc.Server shared with other services (for example an
// egress server): create it with the Server's options and register both.
func ExampleServer_Register() {
	buf, _ := diode.NewManyToOne[[]byte](10000)
	srv, _ := ingress.NewServer(buf, ingress.WithMaxMessageSize(4<<20))
	gs := grpc.NewServer(srv.GRPCServerOptions()...) // or at least ingress.GRPCServerOption()
	srv.Register(gs)
	// egressServer.Register(gs) ...
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println(err)
		return
	}
	go gs.Serve(lis)
	defer gs.Stop()
	defer srv.Close() // refuses further messages; the owner stops gs
}
