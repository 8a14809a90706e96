package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/sluicelog/sluice/egress/forward"
	"github.com/sluicelog/sluice/examples/internal/cli"
	"github.com/sluicelog/sluice/examples/internal/discoveryflag"
	"github.com/sluicelog/sluice/ingress"
	"github.com/sluicelog/sluice/limit"
	"github.com/sluicelog/sluice/telemetry"
)

func main() { os.Exit(run(os.Args[1:])) }

func run(args []string) int {
	fs := flag.NewFlagSet("agent", flag.ContinueOnError)
	cli.Usage(fs, "agent: a sluice agent: emitters send to its Ingress address, it forwards to routers\n"+
		"(5 streams, routers of its own zone first). It prints the address it listens on as its first line\n"+
		"and on SIGINT or SIGTERM stops taking envelopes, forwards what it holds and exits.",
		"agent -addr 127.0.0.1:3458 -routers 127.0.0.1:8082@z1,127.0.0.1:9082@z2 -zone z1 -mode ack -metrics-addr 127.0.0.1:9101")
	var (
		common      cli.Common
		zone        = fs.String("zone", "", "the agent's availability zone: routers of this zone are preferred")
		mode        = fs.String("mode", "stream", "how to send to routers: stream (BatchSender streams) or ack (acknowledged unary Send)")
		streams     = fs.Int("streams", 5, "number of streams to routers")
		maxConns    = fs.Int("max-connections", ingress.DefaultMaxConnections, "connections held open at once on -addr (0: no limit); more are closed at once and counted")
		ingressBuf  cli.IngressBuffer
		serverFiles cli.TLSFiles
		routerFiles cli.TLSFiles
		routers     discoveryflag.Routers
		budget      cli.MemoryBudget
		keepalive   cli.Keepalive
	)
	// 128 MiB: half bounds the ingress buffer (10,000 envelopes of up to
	// 6.4 KiB on average), half is left for the batches on their way to the
	// routers (streams times 100 envelopes, more in -mode ack), connections
	// and the runtime. An agent shares its host with the apps it serves.
	budget.Flags(fs, 128*cli.MiB, "half bounds the ingress buffer, half is left for batches in flight, connections and the runtime; Ingress messages are at most a 32nd of it (10 MiB at most)")
	common.Flags(fs, "127.0.0.1:3458", "Ingress listen address for emitters")
	routers.Flags(fs)
	serverFiles.ServerFlags(fs, "", "the agent's Ingress server")
	routerFiles.ClientFlags(fs, "router-", "routers")
	ingressBuf.Flags(fs, limit.PolicyFair)
	keepalive.Flags(fs, 15*time.Second, 5*time.Second) // forward.WithKeepalive's defaults
	logf := cli.LogLevel(fs)
	if code, ok := cli.Parse(fs, args); !ok {
		return code
	}
	logger, err := logf()
	if err != nil {
		fmt.Fprintf(os.Stderr, "agent: %v\n", err)
		return 2
	}
	sendMode := forward.Streaming
	switch *mode {
	case "stream":
	case "ack":
		sendMode = forward.Acknowledged
	default:
		fmt.Fprintf(os.Stderr, "agent: -mode must be stream or ack, not %q\n", *mode)
		return 2
	}
	serverTLS, err := serverFiles.ServerConfig()
	if err != nil {
		return cli.Fatal("agent", err)
	}
	routerTLS, err := routerFiles.ClientConfig()
	if err != nil {
		return cli.Fatal("agent", err)
	}
	budget.SetMemoryLimit()
	ingressBuf.MaxBytes = budget.Share(1, 2)
	maxMessage := int(min(int64(ingress.DefaultMaxMessageSize), budget.Share(1, 32)))
	logger.Info("agent: memory budget", "budget", budget.Bytes, "ingress_buffer_bytes", ingressBuf.MaxBytes, "max_message_bytes", maxMessage)

	// The envelope path: ingress.Server -> diode -> forward.Forwarder ->
	// forward.Pool -> routers.
	//
	// 1. Where the routers are: -routers (static), -dns or -etcd.
	routerSource, releaseSource, err := routers.Source(logger)
	if err != nil {
		return cli.Fatal("agent", err)
	}
	defer releaseSource()

	// 2. The pool: -streams streams to routers picked among those of the
	//    agent's zone (others only while none of its zone is reachable),
	//    batches spread over them round robin, streams recycled on time;
	//    a router that stalls is cut off by keepalive (-router-keepalive).
	pool, err := forward.NewPool(routerSource, forward.WithZone(*zone), forward.WithStreams(*streams),
		forward.WithMode(sendMode), forward.WithTLS(routerTLS), forward.WithLogger(logger),
		forward.WithKeepalive(keepalive.Interval, keepalive.Timeout))
	if err != nil {
		return cli.Fatal("agent", err)
	}
	defer pool.Close()

	// 3. The ingress buffer: every emitter's stream writes into one buffer
	//    that never blocks them. By default it is fair: when full, the
	//    source holding the most loses its oldest envelope, so one app that
	//    floods its host costs the others on it nothing (-buffer-policy
	//    ring for Loggregator's diode); -limits adds per-source rate limits.
	buf, err := ingressBuf.Start(&common, logger)
	if err != nil {
		return cli.Fatal("agent", err)
	}
	defer buf.Close()

	// 4. The forwarder: reads the diode, batches (100 envelopes or 100 ms)
	//    and writes the batches to the pool. When its context ends it hands
	//    the rest of the diode to the pool, then returns.
	forwarder, err := forward.NewForwarder(buf, pool, forward.WithLogger(logger))
	if err != nil {
		return cli.Fatal("agent", err)
	}
	forwardCtx, stopForwarding := context.WithCancel(context.Background())
	forwarded := make(chan struct{})
	go func() {
		defer close(forwarded)
		_ = forwarder.Run(forwardCtx)
	}()
	defer func() { stopForwarding(); <-forwarded }()

	// 5. The Ingress server for the emitters, writing into the diode.
	if *maxConns == 0 {
		*maxConns = -1 // ingress: a negative count removes the limit
	}
	inOpts := []ingress.ServerOption{ingress.WithTLS(serverTLS), ingress.WithLogger(logger), ingress.WithMaxConnections(*maxConns), ingress.WithMaxMessageSize(maxMessage)}
	if common.Reflection {
		inOpts = append(inOpts, ingress.WithReflection())
	}
	in, err := ingress.NewServer(buf, inOpts...)
	if err != nil {
		return cli.Fatal("agent", err)
	}
	defer in.Close()
	addr, err := in.Start(common.Addr)
	if err != nil {
		return cli.Fatal("agent", err)
	}

	// 6. Telemetry: /metrics, and with -agent-addr the counters as
	//    envelopes to an agent, as Loggregator's agent (metron) does.
	tel, err := common.StartTelemetry("metron", map[string]string{"job": "agent", "zone": *zone}, logger,
		[]telemetry.Component{{Name: "ingress_server", Reporter: in}, {Name: "ingress_buffer", Reporter: buf}, {Name: "forwarder", Reporter: forwarder}, {Name: "pool", Reporter: pool}})
	if err != nil {
		return cli.Fatal("agent", err)
	}
	defer tel.Close()
	cli.Listening(os.Stdout, addr.String(), "metrics", tel.URL())

	return common.WaitThenShutdown("agent", func(ctx context.Context) error {
		// 1. Stop ingress: refuse new streams, let open ones finish; what
		//    they sent is in the diode.
		err := in.Shutdown(ctx)
		// 2. Drain: the forwarder batches what the diode holds into the pool
		//    (what it cannot hand over in time is counted dropped).
		stopForwarding()
		select {
		case <-forwarded:
		case <-ctx.Done():
			err = errors.Join(err, ctx.Err())
			<-forwarded
		}
		// 3. Stop egress: the pool sends what its streams hold, closes them
		//    and stops.
		err = errors.Join(err, pool.Shutdown(ctx))
		// 4. Telemetry last, so its final emission counts everything.
		return errors.Join(err, tel.Shutdown(ctx))
	})
}
