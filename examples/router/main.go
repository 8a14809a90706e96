package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"runtime/pprof"
	"time"

	"google.golang.org/grpc"

	"github.com/sluicelog/sluice/discovery"
	etcdreg "github.com/sluicelog/sluice/discovery/etcd"
	"github.com/sluicelog/sluice/dropsonde"
	"github.com/sluicelog/sluice/dropsonde/firehose"
	"github.com/sluicelog/sluice/dropsonde/plumbing"
	"github.com/sluicelog/sluice/egress/serve"
	"github.com/sluicelog/sluice/envelope"
	"github.com/sluicelog/sluice/examples/internal/cli"
	"github.com/sluicelog/sluice/examples/internal/discoveryflag"
	"github.com/sluicelog/sluice/ingress"
	"github.com/sluicelog/sluice/internal/connlimit"
	"github.com/sluicelog/sluice/internal/grpcserve"
	"github.com/sluicelog/sluice/limit"
	"github.com/sluicelog/sluice/telemetry"
)

func main() { os.Exit(run(os.Args[1:])) }

func run(args []string) int {
	fs := flag.NewFlagSet("router", flag.ContinueOnError)
	cli.Usage(fs, "router: a sluice router serving loggregator.v2 Ingress and Egress, and Loggregator's v1 ingress\n"+
		"(plumbing.DopplerIngestor), on one gRPC address.\n"+
		"It prints the address it listens on as its first line and stops gracefully on SIGINT or SIGTERM.",
		"router -addr 127.0.0.1:8082 -gateway-addr 127.0.0.1:8083 -metrics-addr 127.0.0.1:9102 -etcd http://127.0.0.1:2379 -zone z1 -id r1")
	var (
		common      cli.Common
		gatewayAddr = fs.String("gateway-addr", "", "HTTP listen address of the /v2/read gateway (empty: no gateway)")
		fhAddr      = fs.String("firehose-addr", "", "HTTP listen address of the v1 websocket firehose, /firehose/{subscription_id} and /apps/{source_id}/stream (empty: none)")
		id          = fs.String("id", "", "router ID in discovery (default: the listen address)")
		zone        = fs.String("zone", "", "availability zone the router registers in")
		ttl         = fs.Duration("ttl", 10*time.Second, "etcd registration lease TTL")
		advertise   = fs.String("advertise-addr", "", "address registered in etcd for others to dial (default: the listen address)")
		ingressBuf  cli.IngressBuffer
		subBuffer   = fs.Int("subscription-buffer", 0, "per-subscription diode size (envelopes; 0: from -memory-budget, at most 16,384)")
		groupGrace  = fs.Duration("group-grace", serve.DefaultGroupGrace, "how long a shard group keeps its buffer after its last member left, for a member that reconnects")
		sendTimeout = fs.Duration("send-timeout", serve.DefaultSendTimeout, "an Egress stream whose send blocks this long (its client reads nothing) is ended and counted evicted (0: never)")
		writeTime   = fs.Duration("write-timeout", serve.DefaultWriteTimeout, "a gateway client whose frame is not written in this long (it reads nothing) is evicted and counted (0: never)")
		cpuProfile  = fs.String("cpuprofile", "", "write a CPU profile (pprof) of the whole run to this file")
		tlsFiles    cli.TLSFiles
		etcd        discoveryflag.Etcd
		access      cli.Access
		tune        tuning
		edge        edgeFlags
		diag        diagnostics
		procs       procsFlag
		maxConns    = fs.Int("max-connections", serve.DefaultMaxConnections, "connections held open at once on -addr, and on -gateway-addr (0: no limit); more are closed at once and counted")
		budget      cli.MemoryBudget
		maxStreams  = fs.Int("max-streams", serve.DefaultMaxStreams, "Egress streams served at once, and gateway streams at once; more are refused and counted")
		maxShards   = fs.Int("max-shard-groups", 1000, "shard groups held at once (open, or waiting for their members); a subscription opening one more is refused and counted")
		maxEnvelope = fs.Int("max-envelope-bytes", serve.DefaultMaxEnvelopeBytes, "largest envelope routed, in wire bytes (at most one subscription buffer's bytes); larger ones are dropped and counted as too_large")
	)
	budget.Flags(fs, defaultBudget, "a quarter bounds the ingress buffer, half the subscription buffers (their slots, for -max-streams for gRPC and for the gateway, -max-connections for the firehose, and -max-shard-groups, and a byte pool they share), a quarter is left for connections and the runtime")
	common.Flags(fs, "127.0.0.1:8082", "gRPC listen address for Ingress and Egress")
	tlsFiles.ServerFlags(fs, "", "the gRPC server and gateway")
	etcd.Flags(fs, "to register the router in (empty: no registration)")
	ingressBuf.Flags(fs, limit.PolicyFair)
	access.Flags(fs)
	tune.Flags(fs)
	edge.Flags(fs)
	diag.Flags(fs)
	procs.Flags(fs)
	logf := cli.LogLevel(fs)
	if code, ok := cli.Parse(fs, args); !ok {
		return code
	}
	logger, err := logf()
	if err != nil {
		fmt.Fprintf(os.Stderr, "router: %v\n", err)
		return 2
	}
	gomaxprocs, err := procs.Apply()
	if err != nil {
		fmt.Fprintf(os.Stderr, "router: %v\n", err)
		return 2
	}
	logger.Debug("router: processors", "gomaxprocs", gomaxprocs)
	serverTLS, err := tlsFiles.ServerConfig()
	if err != nil {
		return cli.Fatal("router", err)
	}
	// The memory budget: the buffers' sizes in bytes, and Go's soft limit.
	streams := *maxStreams
	if *gatewayAddr != "" {
		streams += *maxStreams
	}
	if *fhAddr != "" {
		streams += *maxConns // the firehose serves one stream per connection
	}
	plan, err := planRouter(budget.Bytes, streams, *maxShards, *subBuffer, *maxEnvelope)
	if err != nil {
		return cli.Fatal("router", err)
	}
	budget.SetMemoryLimit()
	ingressBuf.MaxBytes = plan.Ingress
	logger.Info("router: memory budget", "budget", budget.Bytes, "ingress_buffer_bytes", plan.Ingress,
		"subscription_slots", plan.Slots, "subscription_pool_bytes", plan.Pool, "subscription_reserve_bytes", plan.Reserve,
		"subscription_buffer_bytes", plan.Subscription, "subscription_buffers", plan.Buffers,
		"max_message_bytes", plan.MaxMessage, "max_envelope_bytes", plan.MaxEnvelope)
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return cli.Fatal("router", err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			return cli.Fatal("router", err)
		}
		defer func() { pprof.StopCPUProfile(); _ = f.Close() }()
	}
	stopDiag, err := diag.Start()
	if err != nil {
		return cli.Fatal("router", err)
	}
	defer stopDiag()
	// Who may read what: -authz-policy (reloaded on SIGHUP) and/or
	// -authz-introspect; without them only loopback listeners start,
	// unless -authz-open.
	authorizer, stopAuthz, err := access.Authorizer(logger, common.Addr, *gatewayAddr)
	if err != nil {
		return cli.Fatal("router", err)
	}
	defer stopAuthz()

	// The envelope path: ingress.Server -> diode -> serve.Router ->
	// subscriptions -> serve.Server (and serve.Gateway).
	//
	// 1. The ingress buffer: every Ingress stream writes the envelopes' wire
	//    bytes into one buffer that never blocks them. By default it is
	//    fair: when the router falls behind, the sources holding the most
	//    lose their oldest envelopes, not everyone (-buffer-policy ring for
	//    Loggregator's diode, which drops whole laps); -limits adds
	//    per-source rate limits. Every drop is counted.
	buf, err := ingressBuf.Start(&common, logger)
	if err != nil {
		return cli.Fatal("router", err)
	}
	defer buf.Close()
	in, err := ingress.NewServer(buf, append(append(tune.IngressOptions(), edge.IngressOptions()...), ingress.WithTLS(serverTLS), ingress.WithLogger(logger), ingress.WithMaxMessageSize(plan.MaxMessage))...)
	if err != nil {
		return cli.Fatal("router", err)
	}
	defer in.Close()
	//    Loggregator's agents also push v1 (dropsonde) envelopes to routers
	//    on the same port: the Ingestor converts them to v2 and writes them
	//    into the same diode, so they are routed like v2 envelopes.
	v1, err := dropsonde.NewIngestor(buf, dropsonde.WithLogger(logger))
	if err != nil {
		return cli.Fatal("router", err)
	}
	defer v1.Close()

	// 2. The subscription router: each shard ID gets its copy of every
	//    envelope its selectors match, the members of a shard group share it.
	router, err := serve.NewRouter(serve.WithSubscriptionDiode(plan.Slots), serve.WithSubscriptionBytes(plan.Subscription), serve.WithSubscriptionPool(plan.Pool, plan.Reserve),
		serve.WithGroupGrace(*groupGrace), serve.WithLimits(serve.Limits{MaxShards: *maxShards, MaxEnvelopeBytes: plan.MaxEnvelope}), serve.WithLogger(logger))
	if err != nil {
		return cli.Fatal("router", err)
	}
	defer router.Close()

	// 3. The Egress server: one subscription at the router per stream.
	egress, err := serve.NewServer(router, append(tune.EgressOptions(), serve.WithTLS(serverTLS), serve.WithAuthorizer(authorizer), serve.WithMaxStreams(*maxStreams), serve.WithSendTimeout(*sendTimeout), serve.WithLogger(logger))...)
	if err != nil {
		return cli.Fatal("router", err)
	}
	defer egress.Close()

	// 4. Ingress (v2 and v1) and Egress share one gRPC server on -addr. Ingress's options
	//    carry the wire codec, TLS, message limit and keepalive for both.
	lis, err := net.Listen("tcp", common.Addr)
	if err != nil {
		return cli.Fatal("router", err)
	}
	conns := connlimit.New(*maxConns)
	lis = conns.Listener(lis)
	gs := grpc.NewServer(append(in.GRPCServerOptions(), tune.ServerOptions()...)...)
	in.Register(gs)
	v1.Register(gs)
	egress.Register(gs)
	if common.Reflection {
		// The shared server is the program's: it registers reflection,
		// resolving sluice's v2 and v1 descriptors.
		grpcserve.RegisterReflection(gs, envelope.Files(), plumbing.Files())
	}
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
		if gateway, err = serve.NewGateway(router, serve.WithAuthorizer(authorizer), serve.WithMaxStreams(*maxStreams), serve.WithWriteTimeout(*writeTime), serve.WithLogger(logger)); err != nil {
			return cli.Fatal("router", err)
		}
		defer gateway.Close()
		if gatewayHTTP, err = cli.ServeHTTP(*gatewayAddr, serve.GatewayPath, gateway, serverTLS, *maxConns); err != nil {
			return cli.Fatal("router", err)
		}
		defer gatewayHTTP.Close()
	}

	// 7. The v1 websocket firehose (optional): the same subscriptions as
	//    dropsonde envelopes over websockets, as Loggregator's traffic
	//    controller serves them.
	var v1Firehose *firehose.Handler
	var firehoseHTTP *cli.HTTPServer
	if *fhAddr != "" {
		if v1Firehose, err = firehose.NewHandler(router, firehose.WithAuthorizer(authorizer), firehose.WithLogger(logger)); err != nil {
			return cli.Fatal("router", err)
		}
		defer v1Firehose.Close()
		if firehoseHTTP, err = cli.ServeHTTP(*fhAddr, "/", v1Firehose, serverTLS, *maxConns); err != nil {
			return cli.Fatal("router", err)
		}
		defer firehoseHTTP.Close()
	}

	if *id == "" {
		*id = addr
	}
	// 8. Telemetry: /metrics, and with -agent-addr the counters as
	//    envelopes (source ID "doppler"), as Loggregator's router does.
	components := []telemetry.Component{
		{Name: "ingress_server", Reporter: in}, {Name: "ingress_buffer", Reporter: buf}, {Name: "v1_ingestor", Reporter: v1},
		{Name: "router", Reporter: router}, {Name: "egress_server", Reporter: egress}, {Name: "grpc_listener", Reporter: conns},
	}
	if gateway != nil {
		components = append(components, telemetry.Component{Name: "gateway", Reporter: gateway}, telemetry.Component{Name: "gateway_listener", Reporter: gatewayHTTP.Conns})
	}
	if v1Firehose != nil {
		components = append(components, telemetry.Component{Name: "v1_firehose", Reporter: v1Firehose})
	}
	tel, err := common.StartTelemetry("doppler", map[string]string{"job": "router", "router_id": *id}, logger, components)
	if err != nil {
		return cli.Fatal("router", err)
	}
	defer tel.Close()

	// 9. Registration in etcd (optional): a key under the prefix, kept alive
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

	cli.Listening(os.Stdout, addr, "gateway", gatewayHTTP.URL(), "firehose", firehoseHTTP.URL(), "metrics", tel.URL())

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
		//    v1 streams: Loggregator's agents never close them, so they are
		//    served while v2 ingress drains, then closed: what they send
		//    from now on is refused and counted, never left in the diode
		//    after the last read.
		errs = append(errs, v1.Close())
		// 4. Drain: Run routes what the diode holds, then returns.
		stopRouting()
		<-routed
		// 5. Stop egress: every stream (gRPC and gateway) sends what its
		//    subscription holds and ends; then the router closes, counting
		//    what is left.
		if gateway != nil {
			errs = append(errs, gateway.Shutdown(ctx), gatewayHTTP.Shutdown(ctx))
		}
		if v1Firehose != nil {
			errs = append(errs, v1Firehose.Shutdown(ctx), firehoseHTTP.Shutdown(ctx))
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
