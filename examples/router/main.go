package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/sluicelog/sluice/examples/internal/cli"
	"github.com/sluicelog/sluice/harness"
)

func main() { os.Exit(run(os.Args[1:])) }

func run(args []string) int {
	fs := flag.NewFlagSet("router", flag.ContinueOnError)
	cli.Usage(fs, "router: a sluice router serving loggregator.v2 Ingress and Egress on one gRPC address.\n"+
		"It prints the address it listens on as its first line and stops gracefully on SIGINT or SIGTERM.",
		"router -addr 127.0.0.1:8082 -gateway-addr 127.0.0.1:8083 -metrics-addr 127.0.0.1:9102 -etcd 127.0.0.1:2379 -zone z1 -id r1")
	var (
		common      cli.Common
		gatewayAddr = fs.String("gateway-addr", "", "HTTP listen address of the /v2/read gateway (empty: no gateway)")
		id          = fs.String("id", "", "router ID in discovery (default: the listen address)")
		zone        = fs.String("zone", "", "availability zone the router registers in")
		ttl         = fs.Duration("ttl", 10*time.Second, "etcd registration lease TTL")
		advertise   = fs.String("advertise-addr", "", "address registered in etcd for others to dial (default: the listen address)")
		bufferSize  = fs.Int("buffer", 10000, "ingress diode size (envelopes)")
		subBuffer   = fs.Int("subscription-buffer", 1000, "per-subscription diode size (envelopes)")
		tlsFiles    cli.TLSFiles
		etcd        cli.Etcd
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
	r, err := harness.StartRouter(harness.RouterConfig{
		ID: *id, Zone: *zone, Addr: common.Addr, GatewayAddr: *gatewayAddr, TLS: serverTLS,
		BufferSize: *bufferSize, SubscriptionBuffer: *subBuffer, Logger: logger,
	})
	if err != nil {
		return cli.Fatal("router", err)
	}
	defer r.Close()
	if r.ID == "" {
		r.ID = r.Addr()
	}
	tel, err := common.StartTelemetry("doppler", map[string]string{"job": "router", "router_id": r.ID}, logger, r.Components())
	if err != nil {
		return cli.Fatal("router", err)
	}
	defer tel.Close()
	deregister := func(context.Context) error { return nil }
	if etcd.Enabled() {
		ep := r.Endpoint()
		if *advertise != "" {
			ep.Addr = *advertise
		}
		if deregister, err = etcd.Register(ep, *ttl, logger); err != nil {
			return cli.Fatal("router", err)
		}
	}
	cli.Listening(os.Stdout, r.Addr(), "gateway", r.GatewayURL(), "metrics", tel.URL())

	return common.WaitThenShutdown("router", func(ctx context.Context) error {
		// Leave discovery first, so agents move away before the router stops.
		if err := deregister(ctx); err != nil {
			fmt.Fprintf(os.Stderr, "router: deregister: %v\n", err)
		}
		// Stop telemetry last, so its final envelopes carry final totals.
		return errors.Join(r.Shutdown(ctx), tel.Shutdown(ctx))
	})
}
