package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"time"

	"github.com/sluicelog/sluice/diode"
	"github.com/sluicelog/sluice/drain"
	"github.com/sluicelog/sluice/examples/internal/cli"
	"github.com/sluicelog/sluice/ingress"
	"github.com/sluicelog/sluice/telemetry"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout)) }

// Ledger is the JSON line the syslog agent writes on exit. Once it has
// stopped, Ingress == IngressDropped + Published + Malformed, and per drain
// and in total Written == Sent + the sum of Dropped.
type Ledger struct {
	// Ingress: envelopes the Ingress server accepted into its buffer.
	Ingress uint64 `json:"ingress"`
	// IngressDropped: lost in that buffer (overflow).
	IngressDropped uint64 `json:"ingress_dropped"`
	// Published: read from the buffer and handed to the drains; Malformed:
	// read but refused as not an envelope.
	Published uint64 `json:"published"`
	Malformed uint64 `json:"malformed"`
	// Unbound: published envelopes of sources without a drain; Filtered:
	// of sources whose drains do not want their kind.
	Unbound  uint64 `json:"unbound"`
	Filtered uint64 `json:"filtered"`
	// LossReports: "N envelopes dropped for drain URL" lines the agent
	// put in owners' streams (they count in the drains' Written too).
	LossReports uint64 `json:"loss_reports"`
	// Total sums every drain the agent ran; Drains holds those running at
	// the end, keyed by "source-id url".
	Total  DrainLedger            `json:"total"`
	Drains map[string]DrainLedger `json:"drains"`
	// Refused counts refused bindings by cause.
	Refused map[string]uint64 `json:"refused_bindings"`
	// Balanced reports that the books above close.
	Balanced bool `json:"balanced"`
}

// DrainLedger is one drain's part of the Ledger.
type DrainLedger struct {
	Written  uint64            `json:"written"`
	Sent     uint64            `json:"sent"`
	Messages uint64            `json:"messages"`
	Dropped  map[string]uint64 `json:"dropped"`
}

func drainLedger(s drain.Stats) DrainLedger {
	d := DrainLedger{Written: s.Written, Sent: s.Sent, Messages: s.Messages, Dropped: map[string]uint64(s.Dropped.Stats())}
	if d.Dropped == nil {
		d.Dropped = map[string]uint64{}
	}
	return d
}

func (d DrainLedger) balanced() bool {
	var dropped uint64
	for _, n := range d.Dropped {
		dropped += n
	}
	return d.Written == d.Sent+dropped
}

func run(args []string, stdout io.Writer) int {
	fs := flag.NewFlagSet("syslogagent", flag.ContinueOnError)
	cli.Usage(fs, "syslogagent: a sluice syslog agent: emitters, or a forwarder agent's fan-out, send to its Ingress\n"+
		"address; it delivers each source's envelopes to the drains bound to it in the -bindings file\n"+
		"(syslog://, syslog-tls://, https://), re-read every -bindings-refresh. It prints the address it\n"+
		"listens on as its first line; on SIGINT or SIGTERM it stops taking envelopes, lets every drain\n"+
		"deliver what it holds and writes its ledger as a JSON line.",
		"syslogagent -addr 127.0.0.1:3460 -bindings bindings.txt -hostname cell-1 -metrics-addr 127.0.0.1:9104")
	var (
		common      cli.Common
		bindings    = fs.String("bindings", "", `bindings file: one "source-id drain-url [hostname]" per line, # comments (required)`)
		refresh     = fs.Duration("bindings-refresh", 5*time.Second, "how often the bindings file is re-read")
		hostname    = fs.String("hostname", "", "HOSTNAME of messages whose envelopes carry no organization, space or app name tags")
		bufferSize  = fs.Int("buffer", 10000, "ingress diode size (envelopes)")
		drainBuffer = fs.Int("drain-buffer", 10000, "each drain's buffer (envelopes)")
		perSource   = fs.Int("max-drains-per-source", 5, "most drains one source may have")
		maxConns    = fs.Int("max-connections", 1000, "most drains in all")
		lossEvery   = fs.Duration("loss-reports", time.Minute, "at most one \"envelopes dropped\" line per drain in its owner's stream this often")
		serverFiles cli.TLSFiles
		drainFiles  cli.TLSFiles
	)
	common.Flags(fs, "127.0.0.1:3460", "Ingress listen address")
	serverFiles.ServerFlags(fs, "", "the syslog agent's Ingress server")
	drainFiles.ClientFlags(fs, "drain-", "syslog-tls and https drains")
	logf := cli.LogLevel(fs)
	if code, ok := cli.Parse(fs, args); !ok {
		return code
	}
	if *bindings == "" {
		fmt.Fprintln(os.Stderr, "syslogagent: -bindings is required")
		return 2
	}
	logger, err := logf()
	if err != nil {
		fmt.Fprintf(os.Stderr, "syslogagent: %v\n", err)
		return 2
	}
	serverTLS, err := serverFiles.ServerConfig()
	if err != nil {
		return cli.Fatal("syslogagent", err)
	}
	drainTLS, err := drainFiles.ClientConfig()
	if err != nil {
		return cli.Fatal("syslogagent", err)
	}

	// The envelope path: ingress.Server -> diode -> drain.Manager -> one
	// buffer, goroutine and connection per drain -> syslog/HTTPS drains.
	//
	// 1. The drains: bindings read from the file now and re-read every
	//    -bindings-refresh; each drain its own buffer and connection, so a
	//    dead drain costs the others nothing; its losses counted and told
	//    to its owner in their own stream.
	drains, err := drain.NewManager(drain.WithSource(drain.FileSource(*bindings), *refresh),
		drain.WithHostname(*hostname), drain.WithTLSConfig(drainTLS), drain.WithBufferSize(*drainBuffer),
		drain.WithMaxDrainsPerSource(*perSource), drain.WithMaxConnections(*maxConns),
		drain.WithLossReports(*lossEvery, nil), drain.WithLogger(logger))
	if err != nil {
		return cli.Fatal("syslogagent", err)
	}
	defer drains.Close()

	// 2. The ingress buffer, read by the Manager: when its context ends
	//    Run publishes what the buffer still holds, then returns.
	buf, err := diode.NewManyToOne[[]byte](*bufferSize)
	if err != nil {
		return cli.Fatal("syslogagent", err)
	}
	runCtx, stopRun := context.WithCancel(context.Background())
	ran := make(chan struct{})
	go func() {
		defer close(ran)
		_ = drains.Run(runCtx, buf)
	}()
	defer func() { stopRun(); <-ran }()

	// 3. The Ingress server, writing into the buffer.
	in, err := ingress.NewServer(buf, ingress.WithTLS(serverTLS), ingress.WithLogger(logger))
	if err != nil {
		return cli.Fatal("syslogagent", err)
	}
	defer in.Close()
	addr, err := in.Start(common.Addr)
	if err != nil {
		return cli.Fatal("syslogagent", err)
	}

	// 4. Telemetry: /metrics, and with -agent-addr the counters as
	//    envelopes to an agent.
	tel, err := common.StartTelemetry("syslog_agent", map[string]string{"job": "syslogagent"}, logger,
		[]telemetry.Component{{Name: "ingress_server", Reporter: in}, {Name: "drains", Reporter: drains}})
	if err != nil {
		return cli.Fatal("syslogagent", err)
	}
	defer tel.Close()
	cli.Listening(stdout, addr.String(), "metrics", tel.URL())

	code := common.WaitThenShutdown("syslogagent", func(ctx context.Context) error {
		// 1. Stop ingress: refuse new streams, let open ones finish.
		err := in.Shutdown(ctx)
		if err != nil {
			_ = in.Close() // nothing may write into the buffer after Run's last read
		}
		// 2. Hand what the buffer holds to the drains.
		stopRun()
		<-ran
		// 3. Every drain delivers what it holds. A dead drain keeps what it
		//    holds until the timeout: that is counted dropped ("closed") in
		//    the ledger and is no failure of the agent's.
		if drains.Shutdown(ctx) != nil {
			fmt.Fprintln(os.Stderr, "syslogagent: drains still undelivered at the shutdown timeout were dropped (\"closed\" in the ledger)")
		}
		// 4. Telemetry last, so its final emission counts everything.
		return errors.Join(err, tel.Shutdown(ctx))
	})
	l := ledger(in, buf, drains)
	if err := cli.WriteJSON(stdout, l); err != nil {
		return cli.Fatal("syslogagent", err)
	}
	if !l.Balanced {
		return cli.Fatal("syslogagent", errors.New("the ledger does not balance"))
	}
	return code
}

func ledger(in *ingress.Server, buf *diode.ManyToOne[[]byte], drains *drain.Manager) Ledger {
	b, st := buf.Stats(), drains.Stats()
	l := Ledger{
		Ingress: in.Stats().Ingress, IngressDropped: b.Dropped, Published: st.Ingress - st.LossReports, Malformed: st.Malformed,
		Unbound: st.Unbound, Filtered: st.Filtered, LossReports: st.LossReports,
		Total: drainLedger(st.Total), Drains: make(map[string]DrainLedger, len(st.Drains)), Refused: maps.Clone(st.Refused),
	}
	l.Balanced = l.Ingress == l.IngressDropped+l.Published+l.Malformed && b.Written == l.Ingress && l.Total.balanced()
	for id, d := range st.Drains {
		l.Drains[id] = drainLedger(d)
		l.Balanced = l.Balanced && l.Drains[id].balanced()
	}
	return l
}
