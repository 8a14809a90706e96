package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/sluicelog/sluice/envelope"
	"github.com/sluicelog/sluice/examples/internal/cli"
	"github.com/sluicelog/sluice/ingress"
)

// Summary is the JSON line loadgen writes on exit. After the flush:
// Emitted == Sent + sum(Dropped), Sent == Confirmed + Unconfirmed.
type Summary struct {
	// Emitted: envelopes handed to the client.
	Emitted uint64 `json:"emitted"`
	// Sent: envelopes written to a stream (or acknowledged, with -ack).
	Sent uint64 `json:"sent"`
	// Confirmed: sent envelopes the server confirmed receiving.
	Confirmed uint64 `json:"confirmed"`
	// Unconfirmed: sent on a stream that broke; the server may or may not
	// have them.
	Unconfirmed uint64 `json:"unconfirmed"`
	// Dropped: envelopes the client gave up, by cause.
	Dropped    map[string]uint64 `json:"dropped"`
	Kinds      map[string]uint64 `json:"kinds"`
	Streams    uint64            `json:"streams"`
	Reconnects uint64            `json:"reconnects"`
	Seconds    float64           `json:"seconds"`
	Rate       float64           `json:"rate"`
	FlushError string            `json:"flush_error,omitempty"`
}

func main() { os.Exit(run(os.Args[1:])) }

func run(args []string) int {
	fs := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	cli.Usage(fs, "loadgen: sends envelopes to a loggregator.v2 Ingress server (an agent or a router) at -rate per\n"+
		"second for -duration (or until SIGINT/SIGTERM), flushes, and writes a JSON summary on stdout.",
		"loadgen -addr 127.0.0.1:3458 -rate 5000 -duration 10s -mix log=60,counter=20,gauge=10,timer=5,event=5")
	var (
		addr        = fs.String("addr", "127.0.0.1:3458", "Ingress server address (host:port)")
		rate        = fs.Int("rate", 1000, "envelopes per second")
		duration    = fs.Duration("duration", 5*time.Second, "how long to send (0: until SIGINT or SIGTERM)")
		mixFlag     = fs.String("mix", "log=60,counter=20,gauge=10,timer=5,event=5", "envelope kinds and their weights")
		sourceID    = fs.String("source-id", "loadgen", "source ID of the envelopes")
		payloadSize = fs.Int("payload-size", 100, "log payload size in bytes")
		names       = fs.Int("names", 8, "distinct counter, gauge and timer names to cycle through")
		ack         = fs.Bool("ack", false, "send each batch with the acknowledged unary Send instead of a BatchSender stream")
		grace       = fs.Duration("flush-timeout", 10*time.Second, "how long the final flush may take")
		tlsFiles    cli.TLSFiles
	)
	tlsFiles.ClientFlags(fs, "", "the Ingress server")
	logf := cli.LogLevel(fs)
	if code, ok := cli.Parse(fs, args); !ok {
		return code
	}
	logger, err := logf()
	if err != nil {
		fmt.Fprintf(os.Stderr, "loadgen: %v\n", err)
		return 2
	}
	mix, err := parseMix(*mixFlag)
	if err != nil {
		fmt.Fprintf(os.Stderr, "loadgen: %v\n", err)
		return 2
	}
	if *rate <= 0 || *names <= 0 || *payloadSize < 0 {
		fmt.Fprintln(os.Stderr, "loadgen: -rate and -names must be positive, -payload-size not negative")
		return 2
	}
	clientTLS, err := tlsFiles.ClientConfig()
	if err != nil {
		return cli.Fatal("loadgen", err)
	}
	opts := []ingress.ClientOption{ingress.WithLogger(logger)}
	if clientTLS != nil {
		opts = append(opts, ingress.WithTLS(clientTLS))
	}
	if *ack {
		opts = append(opts, ingress.WithAcknowledged(5*time.Second))
	}
	c, err := ingress.NewClient(*addr, opts...)
	if err != nil {
		return cli.Fatal("loadgen", err)
	}

	g := &generator{sourceID: *sourceID, payload: make([]byte, *payloadSize), names: *names, mix: mix, kinds: map[string]uint64{}}
	for i := range g.payload {
		g.payload[i] = 'a' + byte(i%26)
	}
	ctx, stop := cli.SignalContext(*duration)
	defer stop()
	start := time.Now()
	// Pace in 10 ms steps: after each tick, emit what the rate owes so far.
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	var emitted uint64
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case now := <-tick.C:
			owed := uint64(now.Sub(start).Seconds() * float64(*rate))
			for ; emitted < owed; emitted++ {
				c.Emit(g.next(now))
			}
		}
	}
	elapsed := time.Since(start)

	fctx, cancel := context.WithTimeout(context.Background(), *grace)
	defer cancel()
	flushErr := c.Shutdown(fctx)
	st := c.Stats()
	sum := Summary{
		Emitted: st.Emitted, Sent: st.Sent, Confirmed: st.Confirmed, Unconfirmed: st.Unconfirmed,
		Dropped: st.Dropped,
		Kinds:   g.kinds, Streams: st.Streams, Reconnects: st.Reconnects,
		Seconds: elapsed.Seconds(), Rate: float64(st.Emitted) / elapsed.Seconds(),
	}
	if flushErr != nil {
		sum.FlushError = flushErr.Error()
	}
	if err := cli.WriteJSON(os.Stdout, sum); err != nil {
		return cli.Fatal("loadgen", err)
	}
	return 0
}

type weighted struct {
	kind   string
	weight int
}

// parseMix parses "log=60,counter=20,...".
func parseMix(s string) ([]weighted, error) {
	var mix []weighted
	total := 0
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		k, v, ok := strings.Cut(part, "=")
		w, err := strconv.Atoi(v)
		if !ok || err != nil || w < 0 {
			return nil, fmt.Errorf("-mix: %q is not kind=weight", part)
		}
		switch k {
		case "log", "counter", "gauge", "timer", "event":
		default:
			return nil, fmt.Errorf("-mix: unknown kind %q (log, counter, gauge, timer, event)", k)
		}
		mix = append(mix, weighted{k, w})
		total += w
	}
	if total == 0 {
		return nil, fmt.Errorf("-mix: %q has no positive weight", s)
	}
	return mix, nil
}

// generator makes envelopes in the mix's proportions, deterministically:
// envelope i takes the kind whose cumulative weight range holds i mod total.
type generator struct {
	sourceID string
	payload  []byte
	names    int
	mix      []weighted
	i        int
	kinds    map[string]uint64
}

func (g *generator) next(now time.Time) *envelope.Envelope {
	total := 0
	for _, w := range g.mix {
		total += w.weight
	}
	slot := g.i % total
	n := g.i % g.names
	g.i++
	kind := g.mix[len(g.mix)-1].kind
	for _, w := range g.mix {
		if slot < w.weight {
			kind = w.kind
			break
		}
		slot -= w.weight
	}
	g.kinds[kind]++
	ts := envelope.WithTimestamp(now)
	switch kind {
	case "counter":
		return envelope.NewCounter(g.sourceID, "requests_"+strconv.Itoa(n), 1, ts)
	case "gauge":
		return envelope.NewGauge(g.sourceID, []envelope.Metric{{Name: "cpu_" + strconv.Itoa(n), Value: float64(g.i % 100), Unit: "percent"}}, ts)
	case "timer":
		return envelope.NewTimer(g.sourceID, "request_"+strconv.Itoa(n), now.Add(-time.Millisecond), now, ts)
	case "event":
		return envelope.NewEvent(g.sourceID, "loadgen", "event "+strconv.Itoa(g.i), ts)
	default:
		return envelope.NewLog(g.sourceID, g.payload, ts)
	}
}
