package serve

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/status"

	"github.com/sluicelog/sluice/egress/authz"
	"github.com/sluicelog/sluice/envelope"
	"github.com/sluicelog/sluice/internal/batch"
	"github.com/sluicelog/sluice/internal/connlimit"
	"github.com/sluicelog/sluice/internal/grpcserve"
	"github.com/sluicelog/sluice/internal/tlscork"
	"github.com/sluicelog/sluice/internal/tlswatch"
	"github.com/sluicelog/sluice/internal/wire"
	"github.com/sluicelog/sluice/stats"
)

// ErrServerClosed is returned by Serve and Start after Shutdown or Close.
var ErrServerClosed = errors.New("serve: server closed")

// Server serves loggregator.v2.Egress (Receiver and BatchedReceiver) from a
// Subscriber, usually a Router, or a proxy's fan-in. Each stream gets its
// own subscription; BatchedReceiver sends batches of at most 100 envelopes
// and 1 MiB held at most 100 ms (with an idle flush), assembled from the
// envelopes' wire bytes without re-encoding them.
type Server struct {
	sub Subscriber
	cfg serverConfig

	host *grpcserve.Host // our own grpc.Server and listeners (Serve, Start)

	mu       sync.Mutex
	draining bool // Shutdown or Close began: new streams are refused
	streams  map[*serverStream]struct{}
	handlers sync.WaitGroup
	rejected uint64
	egress   uint64
	dropped  map[string]uint64 // CauseStreamBroken, by shard ID
	timedOut map[string]uint64 // CauseWriteTimeout, by shard ID (server_evict.go)
	evicted  uint64            // streams ended because their client read nothing
	refusals refusals
	tlsWatch *tlswatch.Watch
	conns    *connlimit.Limit // of the listeners given to Serve and Start
}

type serverStream struct {
	stop context.CancelFunc // ends batching: the handler flushes what it read and returns
	sub  Subscription       // set once subscribed, under Server.mu
}

// ServerStats is a snapshot of a Server's counters; the names in the field
// docs are the telemetry names they map to.
type ServerStats struct {
	// Streams is the number of open Receiver and BatchedReceiver streams.
	Streams int
	// RejectedStreams (`rejected_streams`) counts streams refused: invalid
	// requests, too many streams, a closing server, a failed subscribe.
	RejectedStreams uint64
	// Egress (`egress`) counts envelopes sent to clients.
	Egress uint64
	// Dropped (`dropped{direction=egress}`) counts envelopes read from a
	// subscription that could not be sent, by cause: CauseStreamBroken, the
	// stream broke; CauseWriteTimeout, the stream was evicted because its
	// client read nothing (WithSendTimeout). DroppedByShard splits it by
	// shard ID ("" for subscriptions without one). (Drops inside the subscriptions are
	// counted by the Subscriber, e.g. RouterStats.)
	Dropped        stats.Drops
	DroppedByShard map[string]stats.Drops
	// Evicted (`evicted_streams`) counts streams ended because a send
	// blocked longer than the send timeout (WithSendTimeout).
	Evicted uint64
	// Refused counts the streams (also in RejectedStreams) refused by the
	// authorizer or the per-client limit, by cause: RefusedUnauthenticated,
	// RefusedDenied, RefusedAuthzError, RefusedClientStreams. Nil when
	// none was.
	Refused map[string]uint64
	// TLSFailures counts failed TLS handshakes with clients by cause
	// (`tls_handshake_failures{cause}`, see ingress.ServerStats); each
	// episode of a client is also logged at warn. Nil when none failed.
	TLSFailures map[string]uint64
	// Connections is the number of connections open now on the listeners
	// the Server serves itself (Serve, Start); RefusedConnections counts
	// those closed at once beyond WithMaxConnections.
	Connections        int
	RefusedConnections uint64
}

var _ wire.EgressHandler = serverHandler{}

// NewServer returns a Server that subscribes through s.
func NewServer(s Subscriber, opts ...ServerOption) (*Server, error) {
	if s == nil {
		return nil, fmt.Errorf("%w: nil Subscriber", ErrInvalidConfig)
	}
	cfg := serverDefaults()
	for _, o := range opts {
		if o != nil {
			o.applyServer(&cfg)
		}
	}
	switch {
	case cfg.maxConns < 0:
		return nil, fmt.Errorf("%w: max connections %d, want at least 0", ErrInvalidConfig, cfg.maxConns)
	case cfg.maxStreams < 1 || cfg.maxClient < 1:
		return nil, fmt.Errorf("%w: max streams %d, per client %d, want at least 1", ErrInvalidConfig, cfg.maxStreams, cfg.maxClient)
	case cfg.batchSize < 1 || cfg.interval <= 0:
		return nil, fmt.Errorf("%w: batch size %d, interval %v", ErrInvalidConfig, cfg.batchSize, cfg.interval)
	case cfg.maxBatchBytes < 1:
		return nil, fmt.Errorf("%w: max batch bytes %d, want at least 1", ErrInvalidConfig, cfg.maxBatchBytes)
	case cfg.sendTimeout < 0:
		return nil, fmt.Errorf("%w: send timeout %v, want at least 0", ErrInvalidConfig, cfg.sendTimeout)
	case cfg.kaTime <= 0 || cfg.kaTimeout <= 0 || cfg.kaMinPing < 0:
		return nil, fmt.Errorf("%w: keepalive durations must be positive", ErrInvalidConfig)
	}
	srv := &Server{sub: s, cfg: cfg, streams: make(map[*serverStream]struct{}), dropped: make(map[string]uint64), timedOut: make(map[string]uint64), tlsWatch: tlswatch.New("egress", cfg.logger)}
	srv.host = grpcserve.New("egress", ErrServerClosed, cfg.logger, srv.GRPCServerOptions,
		grpcserve.Reflecting(srv.Register, cfg.reflection, envelope.Files()))
	srv.conns = connlimit.New(cfg.maxConns)
	srv.host.WrapListeners(srv.conns.Listener)
	return srv, nil
}

// GRPCServerOption is the option every grpc.Server that serves sluice's
// Egress must be created with: it installs the codec that carries wire
// bytes.
func GRPCServerOption() grpc.ServerOption { return wire.ServerOption() }

// GRPCServerOptions returns the options the Server uses for its own
// grpc.Server: the wire codec, TLS, keepalive, and Stop waiting for
// handlers. Use them to create a grpc.Server shared with other services (see
// Register).
func (s *Server) GRPCServerOptions() []grpc.ServerOption {
	c := s.cfg
	opts := []grpc.ServerOption{
		wire.ServerOption(),
		wire.PoolServerOption(),
		grpc.WaitForHandlers(true),
		grpc.KeepaliveParams(keepalive.ServerParameters{Time: c.kaTime, Timeout: c.kaTimeout}),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: c.kaMinPing, PermitWithoutStream: true}),
	}
	if c.tls != nil {
		opts = append(opts, grpc.Creds(s.tlsWatch.Credentials(tlscork.Credentials(credentials.NewTLS(c.tls)))))
	}
	return opts
}

// Register registers the Server's Egress handlers on gs, so that Egress and
// Ingress can share one grpc.Server. gs must have been created with
// GRPCServerOption. The owner of gs serves and stops it; Shutdown and Close
// then end the Server's streams and refuse new ones.
func (s *Server) Register(gs grpc.ServiceRegistrar) { wire.RegisterEgress(gs, serverHandler{s}) }

// Serve serves Egress on lis until Shutdown or Close, then returns
// ErrServerClosed. It may be called for several listeners.
func (s *Server) Serve(lis net.Listener) error {
	if err := checkOpen(s.cfg.authorizerSet, lis.Addr().String()); err != nil {
		lis.Close()
		return err
	}
	return s.host.Serve(lis)
}

// Start listens on the TCP address addr (":0" picks a free port), serves in
// the background and returns the bound address.
func (s *Server) Start(addr string) (net.Addr, error) {
	if err := checkOpen(s.cfg.authorizerSet, addr); err != nil {
		return nil, err
	}
	return s.host.Start(addr)
}

// Addr returns the address of the first listener served, or nil.
func (s *Server) Addr() net.Addr { return s.host.Addr() }

// Shutdown refuses new streams, ends every stream after sending what its
// subscription holds, and
// stops the grpc.Server the Server created. When ctx ends first, it closes
// at once (see Close) and returns ctx's error. Safe to call twice and
// before Serve.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.draining = true
	for st := range s.streams {
		st.stop()
	}
	gs := s.host.Close()
	s.mu.Unlock()

	done := make(chan struct{})
	go func() {
		s.handlers.Wait()
		if gs != nil {
			gs.GracefulStop()
		}
		s.host.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		_ = s.Close()
		<-done
		return ctx.Err()
	}
}

// Close refuses new streams and ends every stream at once: subscriptions
// are closed (what they hold is discarded and counted by their Subscriber)
// and connections dropped. Safe to call twice and before Serve.
func (s *Server) Close() error {
	s.mu.Lock()
	s.draining = true
	for st := range s.streams {
		st.stop()
		if st.sub != nil {
			_ = st.sub.Close()
		}
	}
	gs := s.host.Close()
	s.mu.Unlock()
	if gs != nil {
		gs.Stop()
	}
	s.handlers.Wait()
	s.host.Wait()
	return nil
}

// Stats returns a snapshot of the counters.
func (s *Server) Stats() ServerStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := ServerStats{
		Streams:            len(s.streams),
		RejectedStreams:    s.rejected,
		Egress:             s.egress,
		Evicted:            s.evicted,
		DroppedByShard:     make(map[string]stats.Drops, len(s.dropped)),
		Refused:            s.refusals.snapshot(),
		TLSFailures:        s.tlsWatch.Failures(),
		Connections:        s.conns.Open(),
		RefusedConnections: s.conns.Refused(),
	}
	for _, c := range []struct {
		cause string
		n     map[string]uint64
	}{{CauseStreamBroken, s.dropped}, {CauseWriteTimeout, s.timedOut}} {
		for id, n := range c.n {
			d := st.DroppedByShard[id]
			d.Add(c.cause, n)
			st.DroppedByShard[id] = d
			st.Dropped.Add(c.cause, n)
		}
	}
	return st
}

// serverHandler keeps the wire handler methods off Server's API.
type serverHandler struct{ s *Server }

func (h serverHandler) BatchedReceiver(req *envelope.EgressBatchRequest, stream grpc.ServerStream) error {
	return h.s.serve(req, stream, true)
}

// Receiver sends the same envelopes as BatchedReceiver, one message each.
func (h serverHandler) Receiver(req *envelope.EgressRequest, stream grpc.ServerStream) error {
	return h.s.serve(subBatchRequest(req), stream, false)
}

func (s *Server) serve(req *envelope.EgressBatchRequest, stream grpc.ServerStream, batched bool) error {
	if _, err := envelope.RequestSelectors(req); err != nil {
		s.reject()
		return status.Error(codes.InvalidArgument, err.Error())
	}
	id := authz.FromGRPC(stream.Context())
	if err := s.cfg.authorizer.Authorize(stream.Context(), id, authzRequest(req)); err != nil {
		cause := authzCause(err)
		s.refuse(cause)
		s.cfg.logger.Info("serve: stream refused", "cause", cause, "shard_id", req.GetShardId(), "err", err)
		return authzStatus(cause, err)
	}
	client := clientKey(id, grpcClientAddr(stream.Context()))
	ctx, stop := context.WithCancel(stream.Context())
	defer stop()
	st := &serverStream{stop: stop}
	s.mu.Lock()
	if s.draining {
		s.rejected++
		s.mu.Unlock()
		return status.Error(codes.Unavailable, ErrServerClosed.Error())
	}
	if len(s.streams) >= s.cfg.maxStreams {
		s.rejected++
		s.mu.Unlock()
		return status.Errorf(codes.ResourceExhausted, "serve: too many streams (at most %d)", s.cfg.maxStreams)
	}
	if !s.refusals.acquire(client, s.cfg.maxClient) {
		s.rejected++
		s.refusals.add(RefusedClientStreams)
		s.mu.Unlock()
		return status.Errorf(codes.ResourceExhausted, "serve: too many streams from one client (at most %d)", s.cfg.maxClient)
	}
	s.streams[st] = struct{}{}
	s.handlers.Add(1)
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.streams, st)
		s.refusals.release(client)
		s.mu.Unlock()
		s.handlers.Done()
	}()

	sub, err := s.sub.Subscribe(stream.Context(), req)
	if err != nil {
		s.reject()
		return serverSubscribeStatus(err)
	}
	defer sub.Close()
	s.mu.Lock()
	st.sub = sub
	if s.draining && ctx.Err() == nil {
		// Close ran between the check above and now.
		_ = sub.Close()
	}
	s.mu.Unlock()

	shard := req.GetShardId()
	watch := newSendWatch(s.cfg.sendTimeout)
	defer watch.stop()
	w := &streamSender{s: s, stream: stream, sub: sub, stop: stop, watch: watch, shard: shard, batched: batched,
		converge: !s.cfg.tagsUnchanged, preferred: req.GetUsePreferredTags()}
	// On Shutdown ctx ends: batch.Run sends what the subscription holds
	// (while publishing goes on, until Shutdown's own ctx runs out).
	cfg := batch.Config{Size: s.cfg.batchSize, Interval: s.cfg.interval, Idle: s.cfg.interval / 10}
	runErr, evicted := s.runWatched(ctx, sub, cfg, w.flush, watch)
	switch {
	case evicted:
		_ = sub.Close()
		stop()
		return s.evict(shard, grpcClientAddr(stream.Context()))
	case w.err != nil:
		s.cfg.logger.Debug("serve: stream broke", "shard_id", shard, "err", w.err)
		return w.err
	case stream.Context().Err() != nil:
		return status.FromContextError(stream.Context().Err()).Err()
	case ctx.Err() != nil:
		return status.Error(codes.Unavailable, "serve: server shutting down")
	default:
		return status.Errorf(codes.Unavailable, "serve: subscription ended: %v", runErr)
	}
}

func (s *Server) refuse(cause string) {
	s.mu.Lock()
	s.rejected++
	s.refusals.add(cause)
	s.mu.Unlock()
}

func (s *Server) reject() {
	s.mu.Lock()
	s.rejected++
	s.mu.Unlock()
}

// serverSubscribeStatus maps a Subscribe error to a gRPC status.
func serverSubscribeStatus(err error) error {
	switch {
	case errors.Is(err, envelope.ErrNoSelectors), errors.Is(err, envelope.ErrSelectorWithoutMessage),
		errors.Is(err, ErrRequestTooLarge):
		return status.Error(codes.InvalidArgument, err.Error())
	case errors.Is(err, ErrTooManyShards):
		return status.Error(codes.ResourceExhausted, err.Error())
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return status.FromContextError(err).Err()
	}
	if st, ok := status.FromError(err); ok && st.Code() != codes.Unknown {
		return err
	}
	return status.Errorf(codes.Unavailable, "serve: subscribe: %v", err)
}
