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
		bufferSize  = fs.Int("buffer", 10000, "ingress diode size (envelopes)")
		serverFiles cli.TLSFiles
		routerFiles cli.TLSFiles
		routers     cli.Routers
	)
	common.Flags(fs, "127.0.0.1:3458", "Ingress listen address for emitters")
	routers.Flags(fs)
	serverFiles.ServerFlags(fs, "", "the agent's Ingress server")
	routerFiles.ClientFlags(fs, "router-", "routers")
	logf := cli.LogLevel(fs)
	if code, ok := cli.Parse(fs, args); !ok {
		return code
	}
	logger, err := logf()
	if err != nil {
		fmt.Fprintf(os.Stderr, "agent: %v\n", err)
		return 2
	}
	if *mode != "stream" && *mode != "ack" {
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
	src, release, err := routers.Source(logger)
	if err != nil {
		return cli.Fatal("agent", err)
	}
	defer release()
	a, err := harness.StartAgent(src, harness.AgentConfig{
		Zone: *zone, Addr: common.Addr, ServerTLS: serverTLS, RouterTLS: routerTLS,
		Acknowledged: *mode == "ack", Streams: *streams, BufferSize: *bufferSize, Logger: logger,
	})
	if err != nil {
		return cli.Fatal("agent", err)
	}
	defer a.Close()
	tel, err := common.StartTelemetry("metron", map[string]string{"job": "agent", "zone": *zone}, logger, a.Components())
	if err != nil {
		return cli.Fatal("agent", err)
	}
	defer tel.Close()
	cli.Listening(os.Stdout, a.Addr(), "metrics", tel.URL())

	return common.WaitThenShutdown("agent", func(ctx context.Context) error {
		return errors.Join(a.Shutdown(ctx), tel.Shutdown(ctx))
	})
}
