package cli

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

// TLSFiles are the PEM files of one side of a TLS connection, registered as
// -<prefix>tls-cert, -<prefix>tls-key and -<prefix>tls-ca.
type TLSFiles struct {
	Cert, Key, CA string
	// ServerName overrides the name a client verifies (client side only).
	ServerName string
}

// ServerFlags registers the files of a TLS server: with -tls-ca set it
// requires client certificates signed by that CA (mutual TLS).
func (f *TLSFiles) ServerFlags(fs *flag.FlagSet, prefix, what string) {
	fs.StringVar(&f.Cert, prefix+"tls-cert", "", "PEM certificate for "+what+" (with -"+prefix+"tls-key: serve TLS)")
	fs.StringVar(&f.Key, prefix+"tls-key", "", "PEM private key for "+what)
	fs.StringVar(&f.CA, prefix+"tls-ca", "", "PEM CA that client certificates must be signed by (mutual TLS for "+what+")")
}

// ClientFlags registers the files of a TLS client: with -tls-ca set it
// dials TLS trusting that CA, and presents -tls-cert/-tls-key when given.
func (f *TLSFiles) ClientFlags(fs *flag.FlagSet, prefix, what string) {
	fs.StringVar(&f.CA, prefix+"tls-ca", "", "PEM CA to verify "+what+" with (set: dial TLS)")
	fs.StringVar(&f.Cert, prefix+"tls-cert", "", "PEM client certificate presented to "+what+" (mutual TLS)")
	fs.StringVar(&f.Key, prefix+"tls-key", "", "PEM private key of -"+prefix+"tls-cert")
	fs.StringVar(&f.ServerName, prefix+"tls-server-name", "", "name to verify in the certificate of "+what+" (default: the host dialed)")
}

// ServerConfig returns the server config, or nil (plaintext) without a
// certificate.
func (f *TLSFiles) ServerConfig() (*tls.Config, error) {
	if f.Cert == "" && f.Key == "" {
		if f.CA != "" {
			return nil, errors.New("tls: -tls-ca needs -tls-cert and -tls-key")
		}
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(f.Cert, f.Key)
	if err != nil {
		return nil, fmt.Errorf("tls: %w", err)
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if f.CA != "" {
		pool, err := loadPool(f.CA)
		if err != nil {
			return nil, err
		}
		cfg.ClientCAs = pool
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return cfg, nil
}

// ClientConfig returns the client config, or nil (plaintext) without a CA.
func (f *TLSFiles) ClientConfig() (*tls.Config, error) {
	if f.CA == "" {
		if f.Cert != "" || f.Key != "" {
			return nil, errors.New("tls: a client certificate needs the CA file too")
		}
		return nil, nil
	}
	pool, err := loadPool(f.CA)
	if err != nil {
		return nil, err
	}
	cfg := &tls.Config{RootCAs: pool, ServerName: f.ServerName, MinVersion: tls.VersionTLS12}
	if f.Cert != "" || f.Key != "" {
		cert, err := tls.LoadX509KeyPair(f.Cert, f.Key)
		if err != nil {
			return nil, fmt.Errorf("tls: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

func loadPool(file string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("tls: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("tls: no certificate in %s", file)
	}
	return pool, nil
}

// Usage sets fs.Usage to print what the program does, one example command
// line and every flag.
func Usage(fs *flag.FlagSet, what, example string) {
	fs.Usage = func() {
		out := fs.Output()
		fmt.Fprintf(out, "%s\n\nUsage: %s [flags]\n\nExample:\n  %s\n\nFlags:\n", what, fs.Name(), example)
		fs.PrintDefaults()
	}
}

// Parse parses args with fs (made with flag.ContinueOnError) and turns -h
// into exit code 0 and other flag errors into exit code 2.
func Parse(fs *flag.FlagSet, args []string) (exit int, ok bool) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0, false
		}
		return 2, false
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "unexpected arguments: %v\n", fs.Args())
		fs.Usage()
		return 2, false
	}
	return 0, true
}

// SignalContext returns a context that ends on SIGINT or SIGTERM (and after
// d when d > 0), and its stop function.
func SignalContext(d time.Duration) (context.Context, context.CancelFunc) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	if d <= 0 {
		return ctx, stop
	}
	tctx, cancel := context.WithTimeout(ctx, d)
	return tctx, func() { cancel(); stop() }
}

// Listening prints the first line of a listening program: the address
// first, then key=value pairs for the other addresses (empty values are
// left out), e.g. "127.0.0.1:8082 gateway=http://127.0.0.1:8083 metrics=http://127.0.0.1:9100/metrics".
func Listening(w io.Writer, addr string, kv ...string) {
	var b strings.Builder
	b.WriteString(addr)
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "" {
			continue
		}
		b.WriteString(" " + kv[i] + "=" + kv[i+1])
	}
	fmt.Fprintln(w, b.String())
}

// WriteJSON writes v as one line of JSON.
func WriteJSON(w io.Writer, v any) error {
	return json.NewEncoder(w).Encode(v)
}

// Fatal prints err on stderr prefixed by the program name and returns exit
// code 1, for `os.Exit(cli.Fatal(...))` style mains.
func Fatal(name string, err error) int {
	fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
	return 1
}

// Common holds the flags every listening program has: -addr, -metrics-addr,
// -agent-addr (with -agent-tls-*) and -shutdown-timeout.
type Common struct {
	Addr        string
	MetricsAddr string
	AgentAddr   string
	AgentTLS    TLSFiles
	Grace       time.Duration
	Reflection  bool
	// handlers are served beside /metrics (see Handle).
	handlers map[string]http.Handler
}

// Handle serves h at path beside /metrics (when -metrics-addr is set);
// call it before StartTelemetry.
func (c *Common) Handle(path string, h http.Handler) {
	if c.handlers == nil {
		c.handlers = map[string]http.Handler{}
	}
	c.handlers[path] = h
}

// Flags registers the common flags; addrUsage says what listens on -addr.
func (c *Common) Flags(fs *flag.FlagSet, defaultAddr, addrUsage string) {
	fs.StringVar(&c.Addr, "addr", defaultAddr, addrUsage+" (port 0 picks one)")
	fs.StringVar(&c.MetricsAddr, "metrics-addr", "", "HTTP listen address of /metrics in Prometheus text (empty: none)")
	fs.StringVar(&c.AgentAddr, "agent-addr", "", "Ingress address of an agent to send the program's own counters to as envelopes every 15 s (empty: none)")
	c.AgentTLS.ClientFlags(fs, "agent-", "the agent of -agent-addr")
	fs.DurationVar(&c.Grace, "shutdown-timeout", 10*time.Second, "how long a graceful shutdown may take")
	fs.BoolVar(&c.Reflection, "reflection", false, "serve grpc server reflection on -addr (grpcurl list, describe)")
}

// WaitThenShutdown waits for SIGINT or SIGTERM, then calls shutdown with a
// context of c.Grace, and returns the exit code (1 when shutdown fails).
func (c *Common) WaitThenShutdown(name string, shutdown func(context.Context) error) int {
	ctx, stop := SignalContext(0)
	<-ctx.Done()
	stop()
	sctx, cancel := context.WithTimeout(context.Background(), c.Grace)
	defer cancel()
	if err := shutdown(sctx); err != nil {
		return Fatal(name, fmt.Errorf("shutdown: %w", err))
	}
	return 0
}

// LogLevel registers -log-level and returns a function that builds the
// logger it selects: text on stderr, or a discarding logger for "off".
// grpc's own log goes to the same logger (see RouteGRPCLog).
func LogLevel(fs *flag.FlagSet) func() (*slog.Logger, error) {
	level := fs.String("log-level", "warn", "log level on stderr: debug, info, warn, error or off")
	return func() (*slog.Logger, error) {
		logger := slog.New(slog.DiscardHandler)
		if *level != "off" {
			var l slog.Level
			if err := l.UnmarshalText([]byte(*level)); err != nil {
				return nil, fmt.Errorf("-log-level: %w", err)
			}
			logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: l}))
		}
		RouteGRPCLog(logger)
		return logger, nil
	}
}
