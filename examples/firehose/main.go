package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/sluicelog/sluice/harness"
	"github.com/sluicelog/sluice/limit"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr, isTerminal(os.Stdout))
	stop()
	os.Exit(code)
}

func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer, terminal bool) int {
	fs := flag.NewFlagSet("firehose", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		rate       = fs.Int("rate", 10000, "envelopes per second, over all load generators")
		duration   = fs.Duration("duration", 5*time.Second, "how long to send load")
		mix        = fs.String("mix", harness.DefaultMix.String(), "envelope mix as kind=weight pairs (log, counter, gauge, timer, event)")
		payload    = fs.Int("payload", 100, "log payload size in bytes")
		zones      = fs.String("zones", "z1,z2", "availability zones (comma-separated)")
		agents     = fs.Int("agents-per-zone", 2, "agents (each with its load generator) per zone")
		routers    = fs.Int("routers-per-zone", 1, "routers per zone")
		groups     = fs.String("groups", "archive:2,metrics:1", "nozzle shard groups as shard_id:instances")
		slow       = fs.Bool("slow", false, "add a shard group \"slow\" with one nozzle that consumes slowly (shows the slow-consumer signal and its drops)")
		slowDelay  = fs.Duration("slow-delay", time.Millisecond, "per-envelope delay of the slow nozzle")
		ack        = fs.Bool("ack", false, "agents use the acknowledged mode (unary Send) instead of streaming")
		plaintext  = fs.Bool("plaintext", false, "no TLS (default: mutual TLS with certificates generated at start)")
		telemetry  = fs.Duration("telemetry", time.Second, "interval of the routers' self-telemetry envelopes (0 disables)")
		crashAfter = fs.Duration("crash-router-after", 0, "stop the first router abruptly after this long (0: never)")
		refresh    = fs.Duration("refresh", 500*time.Millisecond, "live view refresh interval")
		noisy      = fs.Bool("noisy", false, "add a noisy neighbour: one source (\""+harness.NoisySource+"\") sending -noisy-factor times the rate of each of the mix's ten sources")
		noisyBy    = fs.Int("noisy-factor", 50, "with -noisy: the noisy source's rate, in multiples of one mix source's rate (-rate/10)")
		policy     = fs.String("buffer-policy", string(limit.PolicyFair), "agents' and routers' ingress buffer policy: fair (the sources holding the most lose) or ring (Loggregator's diode: whoever the reader fell behind on loses)")
		syslogURL  = fs.String("syslog-drain", "", "also deliver every envelope to this syslog drain (syslog://host:port or syslog-tls://host:port, as RFC 5424), through a nozzle of its own shard group on the proxy")
	)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: firehose [flags]\n\nRuns an all-in-one sluice firehose over loopback and prints the accounting of every hop.\n\nFlags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		return 2
	}
	m, err := harness.ParseMix(*mix)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	gs, err := parseGroups(*groups)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	if *slow {
		gs = append(gs, harness.Group{ShardID: "slow", Nozzles: 1, Slow: true})
	}
	cfg := harness.TopologyConfig{
		Zones: splitList(*zones), AgentsPerZone: *agents, RoutersPerZone: *routers, Groups: gs,
		Rate: *rate, Mix: m, PayloadSize: *payload, Acknowledged: *ack, Plaintext: *plaintext,
		SlowDelay: *slowDelay, TelemetryInterval: *telemetry,
	}
	if cfg.Policy, err = limit.ParsePolicy(*policy); err != nil {
		fmt.Fprintln(stderr, "firehose:", err)
		return 2
	}
	cfg.Summarize = true // the live view and the ledger name the heaviest sources
	if *noisy {
		cfg.NoisyRate = max(1, *noisyBy**rate/10)
	}
	if *rate <= 0 || *duration <= 0 {
		fmt.Fprintln(stderr, "firehose: -rate and -duration must be positive")
		return 2
	}

	startCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	topo, err := harness.StartTopology(startCtx, cfg)
	cancel()
	if err != nil {
		fmt.Fprintln(stderr, "firehose:", err)
		return 1
	}
	defer topo.Close()
	var sink *drainSink
	if *syslogURL != "" {
		if sink, err = startDrainSink(topo, *syslogURL); err != nil {
			fmt.Fprintln(stderr, "firehose: -syslog-drain:", err)
			return 2
		}
	}
	security := "mutual TLS"
	if *plaintext {
		security = "plaintext"
	}
	mode := "streaming"
	if *ack {
		mode = "acknowledged"
	}
	fmt.Fprintf(stdout, "sluice firehose: %d routers, %d agents in %s, proxy at %s, %d nozzles; %s, %s agents; %d env/s for %s (mix %s); %s ingress buffers\n",
		len(topo.Routers), len(topo.Agents), *zones, topo.Proxy.Addr(), len(topo.Nozzles), security, mode, *rate, *duration, m, cfg.Policy)
	if cfg.NoisyRate > 0 {
		fmt.Fprintf(stdout, "noisy neighbour: source %q at %d env/s (%dx each mix source)\n", harness.NoisySource, cfg.NoisyRate, *noisyBy)
	}

	view := &liveView{w: stdout, terminal: terminal}
	loaded := make(chan uint64, 1)
	go func() { loaded <- topo.Load(ctx, *duration) }()
	tick := time.NewTicker(*refresh)
	defer tick.Stop()
	var crash <-chan time.Time
	if *crashAfter > 0 {
		crash = time.After(*crashAfter)
	}
	start := time.Now()
	prev, prevAt := topo.Report(), start
	for waiting := true; waiting; {
		select {
		case <-loaded:
			waiting = false
		case <-crash:
			crash = nil
			topo.StopRouter(topo.Routers[0])
			view.note(fmt.Sprintf("stopped %s abruptly at %s", topo.Routers[0].ID, time.Since(start).Round(100*time.Millisecond)))
		case now := <-tick.C:
			cur := topo.Report()
			view.show(now.Sub(start), cur, prev, now.Sub(prevAt), topo)
			prev, prevAt = cur, now
		}
	}
	fmt.Fprintln(stdout, "load done; draining every hop...")
	drainCtx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := topo.Drain(drainCtx); err != nil {
		fmt.Fprintln(stderr, "firehose: drain:", err)
	}
	if sink != nil {
		sink.stop(drainCtx, stdout)
	}
	rep := topo.Report()
	fmt.Fprintln(stdout, "\nAccounting (sent == delivered + counted drops + loss inside broken streams, per shard group):")
	rep.Print(stdout)
	printHeavyHitters(stdout, topo, 5)
	if !rep.Balanced() {
		fmt.Fprintln(stdout, "\nFAIL: the accounting identity does not hold")
		return 1
	}
	fmt.Fprintln(stdout, "\nOK: every envelope is delivered or counted where it dropped")
	return 0
}

func parseGroups(s string) ([]harness.Group, error) {
	var gs []harness.Group
	for _, part := range splitList(s) {
		id, n, ok := strings.Cut(part, ":")
		count, err := strconv.Atoi(n)
		if !ok || id == "" || err != nil || count < 1 {
			return nil, fmt.Errorf("firehose: -groups %q: want shard_id:instances (instances >= 1)", part)
		}
		gs = append(gs, harness.Group{ShardID: id, Nozzles: count})
	}
	if len(gs) == 0 {
		return nil, fmt.Errorf("firehose: -groups is empty")
	}
	return gs, nil
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
