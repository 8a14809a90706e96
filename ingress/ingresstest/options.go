package ingresstest

import (
	"crypto/tls"

	"google.golang.org/grpc"
)

// Option configures a Server.
type Option interface{ apply(*config) }

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

type config struct {
	addr        string
	tls         *tls.Config
	loggregator bool
	countOnly   bool
	refusal     error
	stalled     bool
	grpcOpts    []grpc.ServerOption
}

// WithAddr sets the address to listen on (default "127.0.0.1:0", a free
// loopback port). Use it to start a server where an earlier one was.
func WithAddr(addr string) Option { return optionFunc(func(c *config) { c.addr = addr }) }

// WithTLS makes the server serve TLS with cfg; set cfg.ClientAuth for
// mutual TLS. Without it the server serves plaintext.
func WithTLS(cfg *tls.Config) Option { return optionFunc(func(c *config) { c.tls = cfg }) }

// WithLoggregatorAnswers makes the server answer as Loggregator's router
// does: the end of a Sender or BatchSender stream is answered with status
// Unknown and message "EOF" (after every envelope on it was received), and
// the unary Send is answered Unimplemented (its envelopes are not
// received). Without it the server answers as sluice's ingress.Server does:
// OK.
func WithLoggregatorAnswers() Option {
	return optionFunc(func(c *config) { c.loggregator = true })
}

// WithCountOnly makes the server count envelopes without keeping them
// (Envelopes and Raw then return nothing): for long or large tests.
func WithCountOnly() Option { return optionFunc(func(c *config) { c.countOnly = true }) }

// WithRefusal starts the server refusing every call with err (see
// Server.Refuse).
func WithRefusal(err error) Option { return optionFunc(func(c *config) { c.refusal = err }) }

// WithStall starts the server stalled (see Server.Stall).
func WithStall() Option { return optionFunc(func(c *config) { c.stalled = true }) }

// WithServerOptions adds options to the grpc.Server, after the server's own
// (a 10 MiB message limit, Loggregator's, and a keepalive policy that lets
// clients ping every second): flow-control windows, limits, interceptors.
func WithServerOptions(opts ...grpc.ServerOption) Option {
	return optionFunc(func(c *config) { c.grpcOpts = append(c.grpcOpts, opts...) })
}
