package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/sluicelog/sluice/envelope"
	"github.com/sluicelog/sluice/examples/internal/cli"
	"github.com/sluicelog/sluice/examples/internal/metrics"
	"github.com/sluicelog/sluice/nozzle"
	"github.com/sluicelog/sluice/telemetry"
)

// Summary is the JSON line the nozzle writes on exit. Once it has stopped,
// Received == Delivered + Dropped + Discarded.
type Summary struct {
	ShardID string `json:"shard_id"`
	// Received: envelopes that arrived from the server.
	Received uint64 `json:"received"`
	// Delivered: envelopes the nozzle consumed (counted or printed).
	Delivered uint64 `json:"delivered"`
	// Dropped: envelopes refused because the nozzle's buffer was full.
	Dropped uint64 `json:"dropped"`
	// Discarded: envelopes still buffered when the shutdown timeout ended.
	Discarded            uint64            `json:"discarded"`
	MalformedBatches     uint64            `json:"malformed_batches"`
	Undecodable          uint64            `json:"undecodable"`
	Reconnects           uint64            `json:"reconnects"`
	SlowConsumerEpisodes uint64            `json:"slow_consumer_episodes"`
	Kinds                map[string]uint64 `json:"kinds"`
	Seconds              float64           `json:"seconds"`
	LastError            string            `json:"last_error,omitempty"`
}

func main() { os.Exit(run(os.Args[1:])) }

func run(args []string) int {
	fs := flag.NewFlagSet("nozzle", flag.ContinueOnError)
	cli.Usage(fs, "nozzle: subscribes to a loggregator.v2 Egress server (a proxy or a router) and counts what it\n"+
		"receives, or prints it as one protojson line per envelope (-print). It runs for -duration or until\n"+
		"SIGINT/SIGTERM, then drains its buffer and writes a JSON summary as its last line on stdout.\n"+
		"With no kind flag it asks for every kind.",
		"nozzle -addr 127.0.0.1:8084 -shard-id billing -source-id app-1,app-2 -log -counter -counter-name requests -duration 30s")
	var (
		addr        = fs.String("addr", "127.0.0.1:8084", "Egress server address (host:port) to subscribe to")
		shardID     = fs.String("shard-id", "", "shard ID: instances with the same ID share the envelopes, each ID gets its own copy")
		sourceIDs   = fs.String("source-id", "", "comma-separated source IDs to select (empty: every source)")
		logs        = fs.Bool("log", false, "select log envelopes")
		counters    = fs.Bool("counter", false, "select counter envelopes")
		gauges      = fs.Bool("gauge", false, "select gauge envelopes")
		timers      = fs.Bool("timer", false, "select timer envelopes")
		events      = fs.Bool("event", false, "select event envelopes")
		counterName = fs.String("counter-name", "", "only counters of this name (with -counter)")
		gaugeNames  = fs.String("gauge-name", "", "comma-separated: only gauges carrying one of these names (with -gauge)")
		detName     = fs.String("deterministic-name", "", "deterministic name: metrics of the same name always go to the same member of the shard group")
		preferred   = fs.Bool("preferred-tags", true, "ask for use_preferred_tags: deprecated tags arrive folded into tags (false: every tag arrives in deprecated_tags, Loggregator's default)")
		print       = fs.Bool("print", false, "print each envelope as one protojson line on stdout (default: only count)")
		duration    = fs.Duration("duration", 0, "how long to run (0: until SIGINT or SIGTERM)")
		bufferSize  = fs.Int("buffer", nozzle.DefaultBufferSize, "envelopes buffered between the stream and the consumer")
		metricsAddr = fs.String("metrics-addr", "", "HTTP listen address of /metrics in Prometheus text (empty: none; when set, its address is the first line)")
		grace       = fs.Duration("shutdown-timeout", 10*time.Second, "how long draining the buffer may take at the end")
		tlsFiles    cli.TLSFiles
	)
	tlsFiles.ClientFlags(fs, "", "the Egress server")
	logf := cli.LogLevel(fs)
	if code, ok := cli.Parse(fs, args); !ok {
		return code
	}
	logger, err := logf()
	if err != nil {
		fmt.Fprintf(os.Stderr, "nozzle: %v\n", err)
		return 2
	}
	req := &envelope.EgressBatchRequest{ShardId: *shardID, DeterministicName: *detName, UsePreferredTags: *preferred,
		Selectors: selectors(*sourceIDs, *logs, *counters, *gauges, *timers, *events, *counterName, *gaugeNames)}
	clientTLS, err := tlsFiles.ClientConfig()
	if err != nil {
		return cli.Fatal("nozzle", err)
	}
	opts := []nozzle.ReaderOption{nozzle.WithBufferSize(*bufferSize), nozzle.WithLogger(logger)}
	if clientTLS != nil {
		opts = append(opts, nozzle.WithTLS(clientTLS))
	}
	r, err := nozzle.NewReader(*addr, req, opts...)
	if err != nil {
		return cli.Fatal("nozzle", err)
	}
	defer r.Close()
	ms, err := metrics.Start(metrics.Config{MetricsAddr: *metricsAddr, Labels: map[string]string{"job": "nozzle"}}, []telemetry.Component{{Name: "reader", Reporter: r}})
	if err != nil {
		return cli.Fatal("nozzle", err)
	}
	defer ms.Close()
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	if ms != nil {
		cli.Listening(out, strings.TrimSuffix(strings.TrimPrefix(ms.URL(), "http://"), "/metrics"), "metrics", ms.URL())
		out.Flush()
	}

	start := time.Now()
	sum := Summary{ShardID: *shardID, Kinds: map[string]uint64{}}
	done := make(chan struct{})
	go func() {
		defer close(done)
		consume(r, out, *print, &sum)
	}()

	ctx, stop := cli.SignalContext(*duration)
	defer stop()
	<-ctx.Done()
	// Stop the stream and let the consumer drain what the buffer holds.
	sctx, cancel := context.WithTimeout(context.Background(), *grace)
	defer cancel()
	_ = r.Shutdown(sctx)
	<-done

	st := r.Stats()
	sum.Received, sum.Delivered, sum.Dropped, sum.Discarded = st.Received, st.Delivered, st.Dropped[nozzle.CauseOverflow], st.Dropped[nozzle.CauseShutdown]
	sum.MalformedBatches, sum.Reconnects, sum.SlowConsumerEpisodes = st.Malformed, st.Reconnects, st.SlowConsumerEpisodes
	sum.Seconds = time.Since(start).Seconds()
	if st.LastError != nil {
		sum.LastError = st.LastError.Error()
	}
	if err := cli.WriteJSON(out, sum); err != nil {
		return cli.Fatal("nozzle", err)
	}
	return 0
}

// consume reads until the Reader is closed, counting kinds from the wire
// bytes, and with print decoding and printing each envelope.
func consume(r *nozzle.Reader, out *bufio.Writer, print bool, sum *Summary) {
	var e envelope.Envelope
	for {
		b, err := r.Next(context.Background())
		if errors.Is(err, nozzle.ErrClosed) {
			return
		}
		if err != nil {
			continue
		}
		route, err := envelope.ReadRoute(b)
		if err != nil {
			sum.Undecodable++
			continue
		}
		sum.Kinds[route.Kind.String()]++
		if !print {
			continue
		}
		if err := proto.Unmarshal(b, &e); err != nil {
			sum.Undecodable++
			continue
		}
		j, err := protojson.Marshal(&e)
		if err != nil {
			sum.Undecodable++
			continue
		}
		out.Write(j)
		out.WriteByte('\n')
	}
}

// selectors builds the request's selectors: every selected kind for every
// source ID (or for all sources).
func selectors(sourceIDs string, logs, counters, gauges, timers, events bool, counterName, gaugeNames string) []*envelope.Selector {
	if !logs && !counters && !gauges && !timers && !events {
		logs, counters, gauges, timers, events = true, true, true, true, true
	}
	var gn []string
	for _, n := range strings.Split(gaugeNames, ",") {
		if n = strings.TrimSpace(n); n != "" {
			gn = append(gn, n)
		}
	}
	ids := []string{""}
	if sourceIDs != "" {
		ids = ids[:0]
		for _, id := range strings.Split(sourceIDs, ",") {
			ids = append(ids, strings.TrimSpace(id))
		}
	}
	var sels []*envelope.Selector
	for _, id := range ids {
		if logs {
			sels = append(sels, &envelope.Selector{SourceId: id, Message: &envelope.Selector_Log{Log: &envelope.LogSelector{}}})
		}
		if counters {
			sels = append(sels, &envelope.Selector{SourceId: id, Message: &envelope.Selector_Counter{Counter: &envelope.CounterSelector{Name: counterName}}})
		}
		if gauges {
			sels = append(sels, &envelope.Selector{SourceId: id, Message: &envelope.Selector_Gauge{Gauge: &envelope.GaugeSelector{Names: gn}}})
		}
		if timers {
			sels = append(sels, &envelope.Selector{SourceId: id, Message: &envelope.Selector_Timer{Timer: &envelope.TimerSelector{}}})
		}
		if events {
			sels = append(sels, &envelope.Selector{SourceId: id, Message: &envelope.Selector_Event{Event: &envelope.EventSelector{}}})
		}
	}
	return sels
}
