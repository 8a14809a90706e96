package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"

	"github.com/sluicelog/sluice/egress/serve"
	"github.com/sluicelog/sluice/examples/internal/cli"
	"github.com/sluicelog/sluice/examples/internal/discoveryflag"
	"github.com/sluicelog/sluice/examples/internal/metrics"
	"github.com/sluicelog/sluice/nozzle"
	"github.com/sluicelog/sluice/telemetry"
)

func main() { os.Exit(run(os.Args[1:])) }

func run(args []string) int {
	fs := flag.NewFlagSet("proxy", flag.ContinueOnError)
	cli.Usage(fs, "proxy: a sluice reverse log proxy: nozzles subscribe to its Egress address (or its /v2/read\n"+
		"gateway) and it subscribes to every router on their behalf with the same shard ID. It prints the\n"+
		"address it listens on as its first line and stops gracefully on SIGINT or SIGTERM.",
		"proxy -addr 127.0.0.1:8084 -gateway-addr 127.0.0.1:8088 -etcd http://127.0.0.1:2379 -metrics-addr 127.0.0.1:9104")
	var (
		common      cli.Common
		gatewayAddr = fs.String("gateway-addr", "", "HTTP listen address of the /v2/read gateway (empty: no gateway)")
		bufferSize  = fs.Int("buffer", nozzle.DefaultBufferSize, "each subscriber's Firehose buffer (envelopes)")
		serverFiles cli.TLSFiles
		routerFiles cli.TLSFiles
		routers     discoveryflag.Routers
		keepalive   cli.Keepalive
		serverKA    = fs.Duration("keepalive", serve.DefaultKeepalive, "ping a nozzle's connection after this long without activity, and close it when the ping is not answered within as long again (a stalled nozzle's stream ends and its drops are counted)")
		access      cli.Access
		maxConns    = fs.Int("max-connections", serve.DefaultMaxConnections, "connections held open at once on -addr, and on -gateway-addr (0: no limit); more are closed at once and counted")
		sendTimeout = fs.Duration("send-timeout", serve.DefaultSendTimeout, "a nozzle's Egress stream whose send blocks this long (it reads nothing) is ended and counted evicted (0: never)")
		writeTime   = fs.Duration("write-timeout", serve.DefaultWriteTimeout, "a gateway client whose frame is not written in this long (it reads nothing) is evicted and counted (0: never)")
	)
	common.Flags(fs, "127.0.0.1:8084", "Egress gRPC listen address")
	routers.Flags(fs)
	serverFiles.ServerFlags(fs, "", "the proxy's Egress server and gateway")
	routerFiles.ClientFlags(fs, "router-", "routers")
	keepalive.Flags(fs, nozzle.DefaultKeepalive, nozzle.DefaultKeepaliveTimeout)
	access.Flags(fs)
	logf := cli.LogLevel(fs)
	if code, ok := cli.Parse(fs, args); !ok {
		return code
	}
	logger, err := logf()
	if err != nil {
		fmt.Fprintf(os.Stderr, "proxy: %v\n", err)
		return 2
	}
	serverTLS, err := serverFiles.ServerConfig()
	if err != nil {
		return cli.Fatal("proxy", err)
	}
	// Who may read what: -authz-policy (reloaded on SIGHUP) and/or
	// -authz-introspect; without them only loopback listeners start,
	// unless -authz-open.
	authorizer, stopAuthz, err := access.Authorizer(logger, common.Addr, *gatewayAddr)
	if err != nil {
		return cli.Fatal("proxy", err)
	}
	defer stopAuthz()
	routerTLS, err := routerFiles.ClientConfig()
	if err != nil {
		return cli.Fatal("proxy", err)
	}

	// The envelope path: routers -> nozzle.Firehose (one per subscriber) ->
	// serve.Server (and serve.Gateway) -> nozzles.
	//
	// 1. Where the routers are: -routers (static), -dns or -etcd. Firehoses
	//    follow routers that appear; a router is dropped when its stream
	//    ends, not when discovery stops listing it.
	routerSource, releaseSource, err := routers.Source(logger)
	if err != nil {
		return cli.Fatal("proxy", err)
	}
	defer releaseSource()

	// 2. The subscriber: each downstream stream gets its own Firehose,
	//    subscribed at every router with the stream's shard ID and
	//    selectors, closed when the stream ends. Firehoses keeps them for
	//    /metrics.
	var firehoses metrics.Firehoses
	subscriber := firehoses.Record(nozzle.FirehoseSubscriber(routerSource,
		nozzle.WithBufferSize(*bufferSize), nozzle.WithTLS(routerTLS), nozzle.WithLogger(logger),
		nozzle.WithKeepalive(keepalive.Interval, keepalive.Timeout)))

	// 3. The Egress server on -addr.
	egressOpts := []serve.ServerOption{serve.WithTLS(serverTLS), serve.WithAuthorizer(authorizer), serve.WithMaxConnections(*maxConns),
		serve.WithKeepalive(*serverKA, *serverKA), serve.WithSendTimeout(*sendTimeout), serve.WithLogger(logger)}
	if common.Reflection {
		egressOpts = append(egressOpts, serve.WithReflection())
	}
	egress, err := serve.NewServer(subscriber, egressOpts...)
	if err != nil {
		return cli.Fatal("proxy", err)
	}
	defer egress.Close()
	addr, err := egress.Start(common.Addr)
	if err != nil {
		return cli.Fatal("proxy", err)
	}

	// 4. The gateway (optional): the same subscriber over HTTP/SSE.
	var gateway *serve.Gateway
	var gatewayHTTP *cli.HTTPServer
	if *gatewayAddr != "" {
		if gateway, err = serve.NewGateway(subscriber, serve.WithAuthorizer(authorizer), serve.WithWriteTimeout(*writeTime), serve.WithLogger(logger)); err != nil {
			return cli.Fatal("proxy", err)
		}
		defer gateway.Close()
		if gatewayHTTP, err = cli.ServeHTTP(*gatewayAddr, serve.GatewayPath, gateway, serverTLS, *maxConns); err != nil {
			return cli.Fatal("proxy", err)
		}
		defer gatewayHTTP.Close()
	}

	// 5. Telemetry: the subscribers' Firehoses summed (closed ones kept, so
	//    counters never go back), the Egress server and the gateway.
	components := []telemetry.Component{{Name: "firehose", Reporter: firehoses.Reporter()}, {Name: "egress_server", Reporter: egress}}
	if gateway != nil {
		components = append(components, telemetry.Component{Name: "gateway", Reporter: gateway}, telemetry.Component{Name: "gateway_listener", Reporter: gatewayHTTP.Conns})
	}
	tel, err := common.StartTelemetry("reverse_log_proxy", map[string]string{"job": "proxy"}, logger, components)
	if err != nil {
		return cli.Fatal("proxy", err)
	}
	defer tel.Close()
	cli.Listening(os.Stdout, addr.String(), "gateway", gatewayHTTP.URL(), "metrics", tel.URL())

	return common.WaitThenShutdown("proxy", func(ctx context.Context) error {
		// Every stream sends what its Firehose holds and ends (the Firehose
		// closes with it); then the servers stop.
		var errs []error
		if gateway != nil {
			errs = append(errs, gateway.Shutdown(ctx), gatewayHTTP.Shutdown(ctx))
		}
		errs = append(errs, egress.Shutdown(ctx))
		// Telemetry last, so its final envelopes carry final totals.
		errs = append(errs, tel.Shutdown(ctx))
		return errors.Join(errs...)
	})
}
