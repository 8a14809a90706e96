package egresstest

import (
	"crypto/tls"

	"google.golang.org/grpc"

	"github.com/sluicelog/sluice/envelope"
)

// Option configures a Server.
type Option interface{ apply(*config) }

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

type config struct {
	addr      string
	tls       *tls.Config
	play      []*envelope.Envelope
	end       bool
	endErr    error
	batchSize int
	refusal   error
	stalled   bool
	grpcOpts  []grpc.ServerOption
}

// WithAddr sets the address to listen on (default "127.0.0.1:0", a free
// loopback port).
func WithAddr(addr string) Option { return optionFunc(func(c *config) { c.addr = addr }) }

// WithTLS makes the server serve TLS with cfg; set cfg.ClientAuth for
// mutual TLS. Without it the server serves plaintext.
func WithTLS(cfg *tls.Config) Option { return optionFunc(func(c *config) { c.tls = cfg }) }

// WithEnvelopes gives envelopes the server plays to every subscription as
// soon as it opens: those its selectors match, in order (in batches of
// WithBatchSize on BatchedReceiver).
func WithEnvelopes(envs ...*envelope.Envelope) Option {
	return optionFunc(func(c *config) { c.play = append(c.play, envs...) })
}

// WithEndAfterPlay makes the server end every stream once it has played
// the envelopes of WithEnvelopes: with status OK when err is nil (the
// subscriber reads io.EOF), else with err.
func WithEndAfterPlay(err error) Option {
	return optionFunc(func(c *config) { c.end, c.endErr = true, err })
}

// WithBatchSize sets how many played envelopes go in one BatchedReceiver
// batch (default 100).
func WithBatchSize(n int) Option { return optionFunc(func(c *config) { c.batchSize = n }) }

// WithRefusal starts the server refusing every new subscription with err
// (see Server.Refuse).
func WithRefusal(err error) Option { return optionFunc(func(c *config) { c.refusal = err }) }

// WithStall starts the server stalled (see Server.Stall).
func WithStall() Option { return optionFunc(func(c *config) { c.stalled = true }) }

// WithServerOptions adds options to the grpc.Server, after the server's own
// (a 10 MiB message limit and a keepalive policy that lets clients ping
// every second).
func WithServerOptions(opts ...grpc.ServerOption) Option {
	return optionFunc(func(c *config) { c.grpcOpts = append(c.grpcOpts, opts...) })
}
