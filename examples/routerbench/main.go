package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("routerbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg Config
	rates := fs.String("rates", "50000,200000,300000,550000,max", `offered rates in envelopes per second, all senders together (comma-separated; "max" is flat out)`)
	fs.IntVar(&cfg.Senders, "senders", 1, "BatchSender streams (1 to 4), each on its own connection")
	fs.IntVar(&cfg.Subscribers, "subscribers", 1, "BatchedReceiver subscribers (1 or 2)")
	fs.BoolVar(&cfg.Split, "split", false, "two subscribers share one shard ID (A,A: a share each) instead of A,B (a copy each)")
	fs.DurationVar(&cfg.Duration, "duration", 10*time.Second, "how long each rate is offered")
	fs.IntVar(&cfg.Runs, "runs", 1, "runs per rate, each against a fresh router process")
	fs.IntVar(&cfg.Buffer, "buffer", 10000, "the router's ingress diode (envelopes; Loggregator's 10,000)")
	fs.IntVar(&cfg.SubBuffer, "subscription-buffer", 0, "the router's per-subscription diode (envelopes; Loggregator's 1,000; 0: the router's own default)")
	fs.StringVar(&cfg.Router, "router", "", "router binary to run (default: go build examples/router into a temporary directory)")
	fs.BoolVar(&cfg.Relay, "relay", false, "build and run the relay (examples/routerbench/relay) instead of the router: a gRPC server on the router's transport that only passes messages on, the floor any v2 router over mutual TLS pays")
	routerFlags := fs.String("router-flags", "", `more flags for the router program, space-separated (e.g. "-shed-when-full -grpc-read-buffer 65536")`)
	fs.IntVar(&cfg.SenderBuf, "sender-buffer", 10000, "envelopes the senders buffer, all together, while the router pushes back (an agent's diode); paced batches due beyond it are dropped and counted as the senders' drops")
	fs.IntVar(&cfg.SubWindow, "sub-window", 0, "subscribers' HTTP/2 receive window per stream and connection in bytes (0: grpc-go's, estimated from 64 KiB)")
	profile := fs.Bool("profile", false, "have the router write a CPU profile per run into -out (cpu-<rate>-<run>.pprof)")
	out := fs.String("out", ".", "directory for routerbench.csv (and profiles)")
	table := fs.Bool("table", false, "run the whole table (50k, 200k, 300k, 550k over 4 senders; flat out with 1 and 4 senders; 200k copy (A,B) and split (A,A)) with -runs runs each (default 3), print the medians; ignores -rates, -senders, -subscribers, -split")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: routerbench [flags]\n\nStarts the router program with mutual TLS, offers each rate and reports delivery, loss,\nrouter CPU-seconds per million delivered and router memory; writes routerbench.csv.\n\nFlags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	for _, p := range strings.Split(*rates, ",") {
		p = strings.TrimSpace(p)
		if p == "max" {
			cfg.Rates = append(cfg.Rates, 0)
			continue
		}
		r, err := strconv.Atoi(p)
		if err != nil || r <= 0 {
			fmt.Fprintf(stderr, "routerbench: -rates: %q is neither a positive whole number nor max\n", p)
			return 2
		}
		cfg.Rates = append(cfg.Rates, r)
	}
	switch {
	case cfg.Senders < 1 || cfg.Senders > 4:
		fmt.Fprintln(stderr, "routerbench: -senders must be 1 to 4")
		return 2
	case cfg.Subscribers < 1 || cfg.Subscribers > 2:
		fmt.Fprintln(stderr, "routerbench: -subscribers must be 1 or 2")
		return 2
	case cfg.Relay && cfg.Router != "":
		fmt.Fprintln(stderr, "routerbench: -relay and -router: give one")
		return 2
	case cfg.Runs < 1 || cfg.Duration <= 0 || cfg.Buffer < 1 || cfg.SubBuffer < 0:
		fmt.Fprintln(stderr, "routerbench: -runs, -duration and -buffer must be positive, -subscription-buffer not negative")
		return 2
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		fmt.Fprintln(stderr, "routerbench:", err)
		return 1
	}
	if *profile {
		cfg.ProfileDir = *out
	}
	cfg.RouterArgs = strings.Fields(*routerFlags)
	var steps []Step
	var err error
	if *table {
		runsSet := false
		fs.Visit(func(f *flag.Flag) { runsSet = runsSet || f.Name == "runs" })
		if !runsSet {
			cfg.Runs = 3
		}
		steps, err = runTable(ctx, cfg, stdout, stderr)
	} else {
		steps, err = Run(ctx, cfg, stdout, stderr)
	}
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	path := filepath.Join(*out, "routerbench.csv")
	f, err := os.Create(path)
	if err == nil {
		err = WriteCSV(f, steps)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		fmt.Fprintln(stderr, "routerbench:", err)
		return 1
	}
	fmt.Fprintln(stdout, "wrote", path)
	return 0
}

// runTable builds the router once and runs TableRows.
func runTable(ctx context.Context, cfg Config, stdout, stderr io.Writer) ([]Step, error) {
	rows := TableRows()
	fmt.Fprintf(stdout, "table: %d rows, %d run(s) each, about %v\n", len(rows), cfg.Runs, tableDuration(rows, cfg).Round(time.Second))
	if cfg.Router == "" {
		dir, err := os.MkdirTemp("", "routerbench")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(dir)
		if cfg.Router, err = buildRouter(ctx, dir, cfg.Relay, stderr); err != nil {
			return nil, err
		}
	}
	steps, _, err := RunTable(ctx, cfg, rows, stdout, stderr)
	return steps, err
}

// Run builds the router (unless cfg.Router names a binary), makes
// certificates, runs every rate cfg.Runs times and prints a line per run.
func Run(ctx context.Context, cfg Config, stdout, stderr io.Writer) ([]Step, error) {
	dir, err := os.MkdirTemp("", "routerbench")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	if cfg.Router == "" {
		if cfg.Router, err = buildRouter(ctx, dir, cfg.Relay, stderr); err != nil {
			return nil, err
		}
	}
	if cfg.certs, err = writeCerts(dir); err != nil {
		return nil, err
	}
	batch, size, err := benchBatch()
	if err != nil {
		return nil, err
	}
	mode := "a copy each (A,B)"
	if cfg.Split {
		mode = "a share each (A,A)"
	}
	fmt.Fprintf(stdout, "router %s, mutual TLS, ingress diode %d, subscription diode %s; %d sender stream(s), batches of %d envelopes of %d bytes; %d subscriber(s), %s; %v per run\n",
		strings.Join(append([]string{cfg.Router}, cfg.RouterArgs...), " "), cfg.Buffer, subDiode(cfg.SubBuffer), cfg.Senders, BatchSize, size, cfg.Subscribers, mode, cfg.Duration)
	WriteHeader(stdout)
	var steps []Step
	for _, rate := range cfg.Rates {
		for run := 1; run <= cfg.Runs; run++ {
			st, err := runStep(ctx, cfg, rate, run, batch, stderr)
			if err != nil {
				return steps, fmt.Errorf("routerbench: rate %s run %d: %w", rateName(rate), run, err)
			}
			WriteLine(stdout, st)
			steps = append(steps, st)
		}
	}
	return steps, nil
}
