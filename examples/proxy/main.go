package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"

	"github.com/sluicelog/sluice/examples/internal/cli"
	"github.com/sluicelog/sluice/harness"
)

func main() { os.Exit(run(os.Args[1:])) }

func run(args []string) int {
	fs := flag.NewFlagSet("proxy", flag.ContinueOnError)
	cli.Usage(fs, "proxy: a sluice reverse log proxy: nozzles subscribe to its Egress address (or its /v2/read\n"+
		"gateway) and it subscribes to every router on their behalf with the same shard ID. It prints the\n"+
		"address it listens on as its first line and stops gracefully on SIGINT or SIGTERM.",
		"proxy -addr 127.0.0.1:8084 -gateway-addr 127.0.0.1:8088 -etcd 127.0.0.1:2379 -metrics-addr 127.0.0.1:9104")
	var (
		common      cli.Common
		gatewayAddr = fs.String("gateway-addr", "", "HTTP listen address of the /v2/read gateway (empty: no gateway)")
		bufferSize  = fs.Int("buffer", 10000, "each subscriber's Firehose buffer (envelopes)")
		serverFiles cli.TLSFiles
		routerFiles cli.TLSFiles
		routers     cli.Routers
	)
	common.Flags(fs, "127.0.0.1:8084", "Egress gRPC listen address")
	routers.Flags(fs)
	serverFiles.ServerFlags(fs, "", "the proxy's Egress server and gateway")
	routerFiles.ClientFlags(fs, "router-", "routers")
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
	routerTLS, err := routerFiles.ClientConfig()
	if err != nil {
		return cli.Fatal("proxy", err)
	}
	src, release, err := routers.Source(logger)
	if err != nil {
		return cli.Fatal("proxy", err)
	}
	defer release()
	p, err := harness.StartProxy(src, harness.ProxyConfig{
		Addr: common.Addr, GatewayAddr: *gatewayAddr, ServerTLS: serverTLS, RouterTLS: routerTLS, BufferSize: *bufferSize, Logger: logger,
	})
	if err != nil {
		return cli.Fatal("proxy", err)
	}
	defer p.Close()
	tel, err := common.StartTelemetry("reverse_log_proxy", map[string]string{"job": "proxy"}, logger, p.Components())
	if err != nil {
		return cli.Fatal("proxy", err)
	}
	defer tel.Close()
	cli.Listening(os.Stdout, p.Addr(), "gateway", p.GatewayURL(), "metrics", tel.URL())

	return common.WaitThenShutdown("proxy", func(ctx context.Context) error {
		return errors.Join(p.Shutdown(ctx), tel.Shutdown(ctx))
	})
}
