package ingress

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/status"

	"github.com/sluicelog/sluice/diode"
	"github.com/sluicelog/sluice/envelope"
	"github.com/sluicelog/sluice/internal/connlimit"
	"github.com/sluicelog/sluice/internal/grpcserve"
	"github.com/sluicelog/sluice/internal/tlscork"
	"github.com/sluicelog/sluice/internal/tlswatch"
	"github.com/sluicelog/sluice/internal/wire"
	"github.com/sluicelog/sluice/stats"
)

// ErrServerClosed is returned by Serve and Start after Shutdown or Close.
var ErrServerClosed = errors.New("ingress: server closed")

// Server serves loggregator.v2.Ingress (Sender, BatchSender and Send) and
// writes every envelope it accepts, as its wire bytes, into one buffer.
// All methods are safe for concurrent use.
type Server struct {
	buf   diode.Buffer[[]byte]
	keyed diode.Keyed[[]byte] // buf, when it takes source IDs (keyed.go)
	cfg   serverConfig

	ingress      atomic.Uint64
	originFilled atomic.Uint64
	malformed    atomic.Uint64
	tooLarge     atomic.Uint64
	refused      atomic.Uint64
	shed         atomic.Uint64 // envelopes of batches shed at the edge (WithShedWhenFull)
	full         fullBuffer    // buf, when shedding is on and buf can be full
	wait         edgeWait      // WithWaitWhenFull
	open         atomic.Int64
	closed       atomic.Bool      // read on every message: refuse after Close
	tlsWatch     *tlswatch.Watch  // failed handshakes of GRPCServerOptions' credentials
	conns        *connlimit.Limit // of the listeners given to Serve and Start

	mu       sync.Mutex
	draining bool          // Shutdown or Close called: no new streams
	streams  int           // handlers running
	idle     chan struct{} // closed once draining and streams == 0

	host *grpcserve.Host // our own grpc.Server and listeners (Serve, Start)
}

// NewServer returns a Server writing into buf. buf is written from one
// goroutine per open stream: give it a diode.ManyToOne (or a Channel)
// unless the server will only ever have one stream. A nil buf or a bad
// option gives an error wrapping ErrInvalidConfig.
func NewServer(buf diode.Buffer[[]byte], opts ...ServerOption) (*Server, error) {
	if buf == nil {
		return nil, fmt.Errorf("%w: nil buffer", ErrInvalidConfig)
	}
	cfg := defaultServerConfig()
	for _, o := range opts {
		if o != nil {
			o.applyServer(&cfg)
		}
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	s := &Server{buf: buf, keyed: keyedBuffer(buf), cfg: cfg, idle: make(chan struct{}), tlsWatch: tlswatch.New("ingress", cfg.logger)}
	if err := s.wait.init(buf, cfg.wait); err != nil {
		return nil, err
	}
	if f, ok := buf.(fullBuffer); ok && cfg.shed {
		s.full = f
	}
	s.host = grpcserve.New("ingress", ErrServerClosed, cfg.logger, s.GRPCServerOptions,
		grpcserve.Reflecting(s.Register, cfg.reflection, envelope.Files()))
	s.conns = connlimit.New(cfg.maxConns)
	s.host.WrapListeners(s.conns.Listener)
	return s, nil
}

// GRPCServerOption is the option every grpc.Server that serves sluice's
// Ingress (or Egress) must be created with: it installs the codec that
// carries wire bytes. See also Server.GRPCServerOptions.
func GRPCServerOption() grpc.ServerOption { return wire.ServerOption() }

// GRPCServerOptions returns the options the Server itself uses for its own
// grpc.Server: the wire codec and its buffer pool (one that does not zero
// buffers grpc fills), TLS, the receive limit, keepalive, and Stop waiting for handlers. Use
// them to create a grpc.Server shared with other services (see Register).
//
// grpc's own receive limit is set to twice the Server's maximum so that the
// handler sees, refuses and counts messages just over the maximum itself;
// a unary Send of more than twice the maximum is refused by grpc before it
// reaches the handler and so is not counted (streams count it).
func (s *Server) GRPCServerOptions() []grpc.ServerOption {
	c := s.cfg
	opts := []grpc.ServerOption{
		wire.ServerOption(),
		wire.PoolServerOption(),
		grpc.WaitForHandlers(true),
		grpc.MaxRecvMsgSize(grpcLimit(c.maxMsg)),
		grpc.KeepaliveParams(keepalive.ServerParameters{Time: c.kaTime, Timeout: c.kaTimeout}),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: c.kaMinPing, PermitWithoutStream: c.kaWithoutRP}),
	}
	if c.tls != nil {
		opts = append(opts, grpc.Creds(s.tlsWatch.Credentials(tlscork.Credentials(credentials.NewTLS(c.tls)))))
	}
	return opts
}

func grpcLimit(max int) int {
	if max > (1<<31-1)/2 {
		return 1<<31 - 1
	}
	return 2 * max
}

// Register registers the Server's Ingress handlers on gs, so that Ingress
// and Egress can share one grpc.Server. gs must have been created with
// GRPCServerOption (and should use GRPCServerOptions for the limit, TLS and
// keepalive). The owner of gs serves and stops it; Shutdown and Close then
// only make the handlers refuse new streams and messages.
func (s *Server) Register(gs grpc.ServiceRegistrar) { wire.RegisterIngress(gs, handler{s}) }

// Serve serves Ingress on lis until Shutdown or Close, then returns
// ErrServerClosed. It may be called for several listeners.
func (s *Server) Serve(lis net.Listener) error { return s.host.Serve(lis) }

// Start listens on the TCP address addr (":0" picks a free port), serves in
// the background and returns the bound address.
func (s *Server) Start(addr string) (net.Addr, error) { return s.host.Start(addr) }

// Addr returns the address of the first listener the Server serves on, or
// nil before Serve or Start.
func (s *Server) Addr() net.Addr { return s.host.Addr() }

// Shutdown stops the Server gracefully: it stops listening, refuses new
// streams and calls, sends GOAWAY on its own connections and lets the open
// streams end for the drain period (WithDrain), accepting what they send
// meanwhile. sluice's pool (egress/forward) answers GOAWAY by closing its
// streams on purpose, so nothing it sent is lost. Streams still open after
// the drain are told to go elsewhere: their next message is refused with
// codes.Unavailable (counted as rejected "closed", which a pool reads as a
// failed router and retries elsewhere), and the Server's own connections are
// closed. Everything accepted stays in the buffer, and Shutdown returns nil.
// When ctx ends first it closes the Server as Close does and returns ctx's
// error. Safe to call twice and without Serve.
//
// On a shared grpc.Server (Register), the owner sends GOAWAY by calling
// GracefulStop on it (in another goroutine) before Shutdown, and stops it
// with Stop once every service is done: a handler whose client keeps an
// idle stream open ends only then.
func (s *Server) Shutdown(ctx context.Context) error {
	gs := s.drain()
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		if gs != nil {
			gs.GracefulStop()
		}
	}()
	drain := time.NewTimer(s.cfg.drain)
	defer drain.Stop()
	var err error
	select {
	case <-s.idle:
	case <-drain.C:
		// Streams still open: go elsewhere.
		s.closed.Store(true)
		if gs != nil {
			gs.Stop()
		}
	case <-ctx.Done():
		err = ctx.Err()
	}
	if err != nil {
		s.Close()
	}
	select {
	case <-stopped:
	case <-ctx.Done():
		if err == nil {
			err = ctx.Err()
			s.Close()
		}
		<-stopped
	}
	s.closed.Store(true)
	s.host.Wait()
	return err
}

// Close stops the Server at once: listeners and connections of its own
// grpc.Server are closed, open streams are cut, and a handler still running
// on a shared grpc.Server (Register) refuses its next message with
// codes.Unavailable (counted as rejected "closed"). Everything accepted
// stays in the buffer. Safe to call twice and without Serve.
func (s *Server) Close() error {
	s.closed.Store(true)
	if gs := s.drain(); gs != nil {
		gs.Stop()
	}
	s.host.Wait()
	return nil
}

// drain marks the Server draining and returns its own grpc.Server, if any.
func (s *Server) drain() *grpc.Server {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.draining {
		s.draining = true
		if s.streams == 0 {
			close(s.idle)
		}
	}
	return s.host.Close()
}

// enter registers a running handler, or refuses it while draining.
func (s *Server) enter() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.draining {
		s.refused.Add(1)
		return errClosedStatus
	}
	s.streams++
	s.open.Add(1)
	return nil
}

func (s *Server) leave() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.streams--
	s.open.Add(-1)
	if s.draining && s.streams == 0 {
		close(s.idle)
	}
}

var errClosedStatus = status.Error(codes.Unavailable, "ingress: server closed: go elsewhere")

// ServerStats is a snapshot of a Server's counters. Field docs name the
// Loggregator telemetry each maps to.
type ServerStats struct {
	// Ingress counts envelopes accepted into the buffer (counter
	// `ingress`).
	Ingress uint64
	// Dropped is the buffer's own drop count, read from its Stats, under
	// the one cause a buffer has, stats.CauseOverflow (counter
	// `dropped{direction=ingress}`). When the buffer is shared with other
	// writers it includes their drops. Refused messages are not drops of
	// the Server's: they are counted in Rejected, and the sender learns of
	// them from the status.
	Dropped stats.Drops
	// OriginFilled counts envelopes whose empty source ID was taken from
	// their origin tag (included in Ingress).
	OriginFilled uint64
	// Rejected counts refused messages by cause.
	Rejected Rejected
	// OpenStreams is the number of handlers running now (streams and
	// Send calls).
	OpenStreams int64
	// TLSFailures counts failed TLS handshakes with clients by cause
	// (`tls_handshake_failures{cause}`: not_tls, no_certificate,
	// bad_certificate, peer_rejected, timeout, closed, other); each
	// episode of a client is also logged at warn. Nil when none failed.
	TLSFailures map[string]uint64
	// Connections is the number of connections open now on the listeners
	// the Server serves itself (Serve, Start); RefusedConnections
	// (`refused_connections`) counts those closed at once beyond
	// WithMaxConnections.
	Connections        int
	RefusedConnections uint64
	// Waits counts BatchSender streams' waits for room in the full buffer
	// before receiving their next batch (WithWaitWhenFull; counter
	// `ingress_waits`), WaitTimeouts those that ended after the bound
	// without room (`ingress_wait_timeouts`; the batch was then taken in
	// and the buffer dropped what did not fit, counted in Dropped),
	// WaitCancels those cut short because the stream ended while it
	// waited (`ingress_wait_cancels`: its client left or cancelled, or the
	// Server stopped; not a timeout), and WaitTime the time spent waiting
	// (`ingress_wait_seconds`). The waits that ended with room are Waits
	// minus WaitTimeouts minus WaitCancels.
	Waits, WaitTimeouts, WaitCancels uint64
	WaitTime                         time.Duration
}

// Rejected counts messages the Server refused, by cause. A message is one
// batch (BatchSender, Send) or one envelope (Sender); a refused batch is
// refused whole.
type Rejected struct {
	// Malformed: a message that is not a valid envelope or batch, answered
	// with codes.InvalidArgument (cause "malformed").
	Malformed uint64
	// TooLarge: a message over the maximum size, answered with
	// codes.ResourceExhausted (cause "too_large").
	TooLarge uint64
	// Closed: a stream, call or message refused because the Server was
	// shutting down or closed, answered with codes.Unavailable (cause
	// "closed"; Loggregator's `rejected_streams` counts the streams).
	Closed uint64
}

// Total returns the sum over every cause.
func (r Rejected) Total() uint64 { return r.Malformed + r.TooLarge + r.Closed }

// Stats returns a snapshot of the Server's counters.
func (s *Server) Stats() ServerStats {
	st := ServerStats{
		Ingress:      s.ingress.Load(),
		Dropped:      s.dropped(),
		OriginFilled: s.originFilled.Load(),
		Rejected: Rejected{
			Malformed: s.malformed.Load(),
			TooLarge:  s.tooLarge.Load(),
			Closed:    s.refused.Load(),
		},
		OpenStreams: s.open.Load(),
		TLSFailures: s.tlsWatch.Failures(),

		Connections:        s.conns.Open(),
		RefusedConnections: s.conns.Refused(),
	}
	s.wait.stats(&st)
	return st
}

// dropped returns the buffer's overflow and the envelopes shed.
func (s *Server) dropped() stats.Drops {
	d := overflow(s.buf.Stats().Dropped)
	d.Add(CauseShed, s.shed.Load())
	return d
}

// overflow returns a buffer's drop count as Drops (nil when zero).
func overflow(n uint64) stats.Drops {
	var d stats.Drops
	d.Add(CauseOverflow, n)
	return d
}
