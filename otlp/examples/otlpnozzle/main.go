package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"google.golang.org/grpc/credentials"

	"github.com/sluicelog/sluice/envelope"
	"github.com/sluicelog/sluice/nozzle"
	"github.com/sluicelog/sluice/otlp"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// Summary is the JSON line written on exit.
type Summary struct {
	Read     uint64            `json:"read"`
	Queued   uint64            `json:"queued"`
	Exported uint64            `json:"exported"`
	Empty    uint64            `json:"empty"`
	Dropped  map[string]uint64 `json:"dropped"`
	Balanced bool              `json:"balanced"`
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("otlpnozzle", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		addr     = fs.String("addr", "127.0.0.1:8084", "Egress address of a router or proxy")
		shardID  = fs.String("shard-id", "otlp", "shard ID: instances with the same ID share the stream")
		endpoint = fs.String("otlp-endpoint", "", "OTLP/gRPC receiver host:port (required)")
		duration = fs.Duration("duration", 0, "stop after this long (0: at SIGINT or SIGTERM)")
		grace    = fs.Duration("shutdown-timeout", 10*time.Second, "how long draining and the last exports may take")
		ca       = fs.String("tls-ca", "", "PEM CA to verify the Egress server with (set: dial TLS)")
		cert     = fs.String("tls-cert", "", "PEM client certificate for the Egress server (mutual TLS)")
		key      = fs.String("tls-key", "", "PEM private key of -tls-cert")
		otlpCA   = fs.String("otlp-tls-ca", "", "PEM CA to verify the OTLP receiver with (set: dial TLS; default plaintext)")
	)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *endpoint == "" {
		fmt.Fprintln(stderr, "otlpnozzle: -otlp-endpoint is required")
		return 2
	}
	fail := func(err error) int { fmt.Fprintln(stderr, "otlpnozzle:", err); return 1 }

	var xopts []otlp.Option
	if *otlpCA != "" {
		cfg, err := clientTLS(*otlpCA, "", "")
		if err != nil {
			return fail(err)
		}
		xopts = append(xopts, otlp.WithTransportCredentials(credentials.NewTLS(cfg)))
	}
	x, err := otlp.NewExporter(*endpoint, xopts...)
	if err != nil {
		return fail(err)
	}
	defer x.Close()

	var ropts []nozzle.ReaderOption
	if *ca != "" {
		cfg, err := clientTLS(*ca, *cert, *key)
		if err != nil {
			return fail(err)
		}
		ropts = append(ropts, nozzle.WithTLS(cfg))
	}
	req := &envelope.EgressBatchRequest{ShardId: *shardID, Selectors: []*envelope.Selector{
		{Message: &envelope.Selector_Log{Log: &envelope.LogSelector{}}},
		{Message: &envelope.Selector_Counter{Counter: &envelope.CounterSelector{}}},
		{Message: &envelope.Selector_Gauge{Gauge: &envelope.GaugeSelector{}}},
		{Message: &envelope.Selector_Timer{Timer: &envelope.TimerSelector{}}},
		{Message: &envelope.Selector_Event{Event: &envelope.EventSelector{}}},
	}}
	r, err := nozzle.NewReader(*addr, req, ropts...)
	if err != nil {
		return fail(err)
	}
	defer r.Close()

	// The nozzle's envelopes, as wire bytes, into the exporter's queue.
	var read uint64
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			b, err := r.Next(context.Background())
			if errors.Is(err, nozzle.ErrClosed) {
				return
			}
			if err == nil {
				read++
				_ = x.Publish(b)
			}
		}
	}()

	if *duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *duration)
		defer cancel()
	}
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), *grace)
	defer cancel()
	// Stop the stream, export what the nozzle holds, then the queue.
	err = r.Shutdown(sctx)
	<-done
	err = errors.Join(err, x.Shutdown(sctx))

	st := x.Stats()
	s := Summary{Read: read, Queued: st.Queued, Exported: st.Exported, Empty: st.Empty,
		Dropped: map[string]uint64{"queue": st.Dropped.Queue, "export": st.Dropped.Export, "closed": st.Dropped.Closed}}
	s.Balanced = s.Read == s.Queued && s.Queued == s.Exported+s.Empty+st.Dropped.Total()
	if jerr := json.NewEncoder(stdout).Encode(s); jerr != nil {
		return fail(jerr)
	}
	if err != nil {
		return fail(fmt.Errorf("shutdown: %w", err))
	}
	if !s.Balanced {
		return fail(errors.New("the summary does not balance"))
	}
	return 0
}

func clientTLS(caFile, certFile, keyFile string) (*tls.Config, error) {
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s: no certificate", caFile)
	}
	cfg := &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	if certFile != "" || keyFile != "" {
		c, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, err
		}
		cfg.Certificates = []tls.Certificate{c}
	}
	return cfg, nil
}
