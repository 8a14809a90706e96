package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"time"

	"google.golang.org/grpc"

	"github.com/sluicelog/sluice/diode"
	"github.com/sluicelog/sluice/discovery"
	etcdreg "github.com/sluicelog/sluice/discovery/etcd"
	"github.com/sluicelog/sluice/egress/serve"
	"github.com/sluicelog/sluice/examples/internal/cli"
	"github.com/sluicelog/sluice/examples/internal/discoveryflag"
	"github.com/sluicelog/sluice/ingress"
	"github.com/sluicelog/sluice/telemetry"
)

func main() { os.Exit(run(os.Args[1:])) }

func run(args []string) int {
	fs := flag.NewFlagSet("router", flag.ContinueOnError)
	cli.Usage(fs, "router: a sluice router serving loggregator.v2 Ingress and Egress on one gRPC address.\n"+
		"It prints the address it listens on as its first line and stops gracefully on SIGINT or SIGTERM.",
		"router -addr 127.0.0.1:8082 -gateway-addr 127.0.0.1:8083 -metrics-addr 127.0.0.1:9102 -etcd http://127.0.0.1:2379 -zone z1 -id r1")
	var (
		common      cli.Common
		gatewayAddr = fs.String("gateway-addr", "", "HTTP listen address of the /v2/read gateway (empty: no gateway)")
		id          = fs.String("id", "", "router ID in discovery (default: the listen address)")
		zone        = fs.String("zone", "", "availability zone the router registers in")
		ttl         = fs.Duration("ttl", 10*time.Second, "etcd registration lease TTL")
		advertise   = fs.String("advertise-addr", "", "address registered in etcd for others to dial (default: the listen address)")
		bufferSize  = fs.Int("buffer", 10000, "ingress diode size (envelopes)")
		subBuffer   = fs.Int("subscription-buffer", serve.DefaultSubscriptionBuffer, "per-subscription diode size (envelopes)")
		tlsFiles    cli.TLSFiles
		etcd        discoveryflag.Etcd
	)
	common.Flags(fs, "127.0.0.1:8082", "gRPC listen address for Ingress and Egress")
	tlsFiles.ServerFlags(fs, "", "the gRPC server and gateway")
	etcd.Flags(fs, "to register the router in (empty: no registration)")
	logf := cli.LogLevel(fs)
	if code, ok := cli.Parse(fs, args); !ok {
		return code
	}
	logger, err := logf()
	if err != nil {
		fmt.Fprintf(os.Stderr, "router: %v\n", err)
		return 2
	}
	serverTLS, err := tlsFiles.ServerConfig()
	if err != nil {
		return cli.Fatal("router", err)
	}

	// The envelope path: ingress.Server -> diode -> serve.Router ->
	// subscriptions -> serve.Server (and serve.Gateway).
	//
	// 1. The ingress buffer: every Ingress stream writes the envelopes' wire
	//    bytes into one many-to-one diode, which never blocks them; when the
	//    router falls a whole ring behind, what it missed is counted dropped.
	buf, err := diode.NewManyToOne[[]byte](*bufferSize)
	if err != nil {
		return cli.Fatal("router", err)
	}
	in, err := ingress.NewServer(buf, ingress.WithTLS(serverTLS), ingress.WithLogger(logger))
	if err != nil {
		return cli.Fatal("router", err)
	}
	defer in.Close()

	// 2. The subscription router: each shard ID gets its copy of every
	//    envelope its selectors match, the members of a shard group share it.
	router, err := serve.NewRouter(serve.WithSubscriptionDiode(*subBuffer), serve.WithLogger(logger))
	if err != nil {
		return cli.Fatal("router", err)
	}
	defer router.Close()

	// 3. The Egress server: one subscription at the router per stream.
	egress, err := serve.NewServer(router, serve.WithTLS(serverTLS), serve.WithLogger(logger))
	if err != nil {
		return cli.Fatal("router", err)
	}
	defer egress.Close()

	// 4. Ingress and Egress share one gRPC server on -addr. Ingress's options
	//    carry the wire codec, TLS, message limit and keepalive for both.
	lis, err := net.Listen("tcp", common.Addr)
	if err != nil {
		return cli.Fatal("router", err)
	}
	gs := grpc.NewServer(in.GRPCServerOptions()...)
	in.Register(gs)
	egress.Register(gs)
	go func() { _ = gs.Serve(lis) }()
	defer gs.Stop()
	addr := lis.Addr().String()

	// 5. Route: Run moves envelopes from the diode to the subscriptions until
	//    its context ends, then routes what the diode still holds.
	routeCtx, stopRouting := context.WithCancel(context.Background())
	routed := make(chan struct{})
	go func() {
		defer close(routed)
		_ = router.Run(routeCtx, buf)
	}()
	defer func() { stopRouting(); <-routed }()

	// 6. The gateway (optional): the same subscriptions over HTTP/SSE.
	var gateway *serve.Gateway
	var gatewayHTTP *cli.HTTPServer
	if *gatewayAddr != "" {
		if gateway, err = serve.NewGateway(router, serve.WithLogger(logger)); err != nil {
			return cli.Fatal("router", err)
		}
		defer gateway.Close()
		if gatewayHTTP, err = cli.ServeHTTP(*gatewayAddr, serve.GatewayPath, gateway, serverTLS); err != nil {
			return cli.Fatal("router", err)
		}
		defer gatewayHTTP.Close()
	}

	if *id == "" {
		*id = addr
	}
	// 7. Telemetry: /metrics, and with -agent-addr the counters as
	//    envelopes (source ID "doppler"), as Loggregator's router does.
	components := []telemetry.Component{{Name: "ingress_server", Reporter: in}, {Name: "router", Reporter: router}, {Name: "egress_server", Reporter: egress}}
	if gateway != nil {
		components = append(components, telemetry.Component{Name: "gateway", Reporter: gateway})
	}
	tel, err := common.StartTelemetry("doppler", map[string]string{"job": "router", "router_id": *id}, logger, components)
	if err != nil {
		return cli.Fatal("router", err)
	}
	defer tel.Close()

	// 8. Registration in etcd (optional): a key under the prefix, kept alive
	//    with a lease and put back if etcd loses it. Agents and proxies that
	//    watch the prefix find the router there.
	var registrar *etcdreg.Registrar
	if etcd.Enabled() {
		client, err := etcd.Client()
		if err != nil {
			return cli.Fatal("router", err)
		}
		defer etcd.Close()
		ep := discovery.Endpoint{ID: *id, Addr: addr, Zone: *zone}
		if *advertise != "" {
			ep.Addr = *advertise
		}
		registrar, err = etcdreg.NewRegistrar(client, ep,
			etcdreg.WithPrefix(etcd.Prefix), etcdreg.WithTTL(*ttl), etcdreg.WithLogger(logger))
		if err != nil {
			return cli.Fatal("router", err)
		}
		defer registrar.Close()
	}

	cli.Listening(os.Stdout, addr, "gateway", gatewayHTTP.URL(), "metrics", tel.URL())

	return common.WaitThenShutdown("router", func(ctx context.Context) error {
		var errs []error
		// 1. Leave discovery first, so agents move to other routers and
		//    proxies stop expecting this one.
		if registrar != nil {
			errs = append(errs, registrar.Shutdown(ctx))
		}
		// 2. GOAWAY on every connection: no new streams; sluice pools close
		//    their ingress streams on purpose and move elsewhere, and the
		//    open egress streams keep going. Stop (step 5) ends the wait.
		stopped := make(chan struct{})
		go func() {
			defer close(stopped)
			gs.GracefulStop()
		}()
		// 3. Stop ingress: refuse new streams, let open ones finish for a
		//    short drain, then tell the rest to go elsewhere; what they
		//    sent is in the diode.
		errs = append(errs, in.Shutdown(ctx))
		// 4. Drain: Run routes what the diode holds, then returns.
		stopRouting()
		<-routed
		// 5. Stop egress: every stream (gRPC and gateway) sends what its
		//    subscription holds and ends; then the router closes, counting
		//    what is left.
		if gateway != nil {
			errs = append(errs, gateway.Shutdown(ctx), gatewayHTTP.Shutdown(ctx))
		}
		errs = append(errs, egress.Shutdown(ctx), router.Shutdown(ctx))
		// 6. Let the gRPC server finish: its connections close once their
		//    streams have flushed what they sent. A client that keeps an
		//    idle ingress stream open would hold it: after a short wait it
		//    is cut (everything is accounted for by then).
		select {
		case <-stopped:
		case <-time.After(2 * time.Second):
			gs.Stop()
			<-stopped
		case <-ctx.Done():
			gs.Stop()
			<-stopped
		}
		// 7. Telemetry last, so its final envelopes carry final totals.
		errs = append(errs, tel.Shutdown(ctx))
		return errors.Join(errs...)
	})
}
