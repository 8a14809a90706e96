package main

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"net/url"
	"os"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"

	"github.com/sluicelog/sluice/examples/internal/cli"
)

func main() { os.Exit(run(os.Args[1:])) }

func run(args []string) int {
	fs := flag.NewFlagSet("etcd", flag.ContinueOnError)
	cli.Usage(fs, "etcd: a single-member etcd embedded in this program, for the example programs' -etcd flags\n"+
		"(routers register in it, agents and proxies watch it). It prints its client URL as its first line\n"+
		"and stops on SIGINT or SIGTERM. Without -data-dir its data lives in a temporary directory removed\n"+
		"on exit. For development only: plaintext, no authentication.",
		"etcd -addr 127.0.0.1:2379 -peer-addr 127.0.0.1:2380 -data-dir /tmp/sluice-etcd")
	var (
		addr     = fs.String("addr", "127.0.0.1:2379", "client listen address (port 0 picks one)")
		peerAddr = fs.String("peer-addr", "127.0.0.1:2380", "peer listen address (port 0 picks one)")
		dataDir  = fs.String("data-dir", "", "data directory, kept across runs (empty: a temporary one, removed on exit)")
		level    = fs.String("log-level", "error", "etcd's log level on stderr: debug, info, warn, error or off")
		startTO  = fs.Duration("start-timeout", 30*time.Second, "how long etcd may take to become ready")
	)
	if code, ok := cli.Parse(fs, args); !ok {
		return code
	}
	clientURL, err := listenURL(*addr)
	if err != nil {
		return cli.Fatal("etcd", fmt.Errorf("-addr: %w", err))
	}
	peerURL, err := listenURL(*peerAddr)
	if err != nil {
		return cli.Fatal("etcd", fmt.Errorf("-peer-addr: %w", err))
	}

	cfg := embed.NewConfig()
	cfg.Name = "sluice-dev"
	cfg.Dir = *dataDir
	if cfg.Dir == "" {
		tmp, err := os.MkdirTemp("", "sluice-etcd-")
		if err != nil {
			return cli.Fatal("etcd", err)
		}
		defer os.RemoveAll(tmp)
		cfg.Dir = tmp
		cfg.UnsafeNoFsync = true // the data is thrown away anyway
	}
	cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{clientURL}, []url.URL{clientURL}
	cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{peerURL}, []url.URL{peerURL}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	logLevel, logger, err := newLogger(*level)
	if err != nil {
		fmt.Fprintf(os.Stderr, "etcd: -log-level: %v\n", err)
		return 2
	}
	cfg.ZapLoggerBuilder = embed.NewZapLoggerBuilder(logger)

	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return cli.Fatal("etcd", err)
	}
	defer func() {
		// etcd logs its own closing listeners as errors: quiet it first.
		logLevel.SetLevel(zap.FatalLevel)
		e.Close()
	}()
	select {
	case <-e.Server.ReadyNotify():
	case err := <-e.Err():
		return cli.Fatal("etcd", err)
	case <-time.After(*startTO):
		return cli.Fatal("etcd", errors.New("not ready within -start-timeout"))
	}
	cli.Listening(os.Stdout, clientURL.String())

	ctx, stop := cli.SignalContext(0)
	defer stop()
	select {
	case <-ctx.Done():
		return 0
	case err := <-e.Err():
		return cli.Fatal("etcd", err)
	}
}

// listenURL turns host:port into an http URL; port 0 is replaced by a port
// that is free now (etcd needs to know its ports before it listens, to
// advertise them).
func listenURL(addr string) (url.URL, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return url.URL{}, err
	}
	if port == "0" {
		lis, err := net.Listen("tcp", addr)
		if err != nil {
			return url.URL{}, err
		}
		addr = lis.Addr().String()
		if err := lis.Close(); err != nil {
			return url.URL{}, err
		}
	} else {
		addr = net.JoinHostPort(host, port)
	}
	return url.URL{Scheme: "http", Host: addr}, nil
}

// newLogger builds etcd's logger: JSON lines on stderr at level ("off":
// none), with a level that can be raised before etcd closes.
func newLogger(level string) (zap.AtomicLevel, *zap.Logger, error) {
	if level == "off" {
		return zap.NewAtomicLevelAt(zap.FatalLevel), zap.NewNop(), nil
	}
	lvl, err := zap.ParseAtomicLevel(level)
	if err != nil {
		return lvl, nil, err
	}
	cfg := zap.NewProductionConfig()
	cfg.Level = lvl
	cfg.OutputPaths, cfg.ErrorOutputPaths = []string{"stderr"}, []string{"stderr"}
	logger, err := cfg.Build()
	return lvl, logger, err
}
