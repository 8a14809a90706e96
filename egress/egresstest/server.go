package egresstest

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/sluicelog/sluice/envelope"
	"github.com/sluicelog/sluice/internal/testserver"
	"github.com/sluicelog/sluice/internal/wire"
)

// Errors of a Server.
var (
	// ErrClosed is returned by Restart after Shutdown or Close.
	ErrClosed = errors.New("egresstest: server closed")
	// ErrInvalidConfig wraps every invalid option given to NewServer.
	ErrInvalidConfig = errors.New("egresstest: invalid configuration")
)

// Method names, as in Request.Method.
const (
	Receiver        = "Receiver"
	BatchedReceiver = "BatchedReceiver"
)

// Request is one subscription request the server received. The fields of
// EgressRequest and EgressBatchRequest are the same, so both are recorded
// as an EgressBatchRequest; Method says which was called.
type Request struct {
	Method string
	*envelope.EgressBatchRequest
}

// Server is a loggregator.v2.Egress server on loopback that plays
// envelopes to its subscribers. Its methods may be called from any
// goroutine.
type Server struct {
	cfg     config
	play    [][]byte
	host    *testserver.Host
	gate    testserver.Gate
	changed testserver.Signal

	mu   sync.Mutex
	subs map[*subscription]struct{}
	reqs []Request
	sent uint64
}

// subscription is one open stream.
type subscription struct {
	method string
	sels   []*envelope.Selector
	ch     chan [][]byte // Publish hands batches here
	done   chan struct{} // closed when the stream's handler returns
	end    chan error    // EndStreams' error, buffered
}

// NewServer starts a Server; Close it when done.
func NewServer(opts ...Option) (*Server, error) {
	s := &Server{cfg: config{addr: "127.0.0.1:0", batchSize: 100}, subs: map[*subscription]struct{}{}}
	for _, o := range opts {
		if o != nil {
			o.apply(&s.cfg)
		}
	}
	if s.cfg.batchSize < 1 {
		return nil, fmt.Errorf("%w: batch size %d", ErrInvalidConfig, s.cfg.batchSize)
	}
	for i, e := range s.cfg.play {
		b, err := proto.Marshal(e)
		if err != nil {
			return nil, fmt.Errorf("%w: envelope %d: %v", ErrInvalidConfig, i, err)
		}
		s.play = append(s.play, b)
	}
	s.gate.Refuse(s.cfg.refusal)
	if s.cfg.stalled {
		s.gate.Stall()
	}
	h, err := testserver.Start(s.cfg.addr, ErrClosed, testserver.ServerOptions(s.cfg.tls, s.cfg.grpcOpts...),
		func(gs *grpc.Server) { wire.RegisterEgress(gs, handler{s}) })
	if err != nil {
		return nil, fmt.Errorf("egresstest: %w", err)
	}
	s.host = h
	return s, nil
}

// Addr returns the address the server listens on, "127.0.0.1:port".
func (s *Server) Addr() string { return s.host.Addr() }

// Requests returns the subscription requests received, in order, refused
// ones included.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.reqs...)
}

// Subscribers returns the number of open subscriptions.
func (s *Server) Subscribers() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.subs)
}

// WaitSubscribers waits until exactly n subscriptions are open, or returns
// ctx's error when ctx ends first.
func (s *Server) WaitSubscribers(ctx context.Context, n int) error {
	if err := s.changed.Wait(ctx, func() bool { return s.Subscribers() == n }); err != nil {
		return fmt.Errorf("egresstest: %d subscribers, want %d: %w", s.Subscribers(), n, err)
	}
	return nil
}

// Sent returns how many envelopes the server has sent, over every
// subscription.
func (s *Server) Sent() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sent
}

// Publish sends envs to every subscription open now whose selectors match
// them, as one batch on BatchedReceiver (one message per envelope on
// Receiver). It returns once each subscription has taken its batch (handed
// it to its stream) or ended, or with ctx's error when ctx ends first (for
// example while the server is stalled).
//
// Shard IDs are recorded, not grouped: every subscription gets every
// envelope its selectors match, and use_preferred_tags does not change the
// envelopes' bytes.
func (s *Server) Publish(ctx context.Context, envs ...*envelope.Envelope) error {
	raw := make([][]byte, len(envs))
	for i, e := range envs {
		b, err := proto.Marshal(e)
		if err != nil {
			return fmt.Errorf("egresstest: envelope %d: %w", i, err)
		}
		raw[i] = b
	}
	return s.PublishBytes(ctx, raw)
}

// PublishBytes is Publish for envelopes given as wire bytes. Malformed
// bytes are refused (the error wraps envelope.ErrMalformed) before anything
// is sent.
func (s *Server) PublishBytes(ctx context.Context, envs [][]byte) error {
	routes := make([]envelope.Route, len(envs))
	for i, b := range envs {
		r, err := envelope.ReadRoute(b)
		if err != nil {
			return fmt.Errorf("egresstest: envelope %d: %w", i, err)
		}
		routes[i] = r
	}
	s.mu.Lock()
	subs := make([]*subscription, 0, len(s.subs))
	for sub := range s.subs {
		subs = append(subs, sub)
	}
	s.mu.Unlock()
	for _, sub := range subs {
		batch := sub.filter(envs, routes)
		if len(batch) == 0 {
			continue
		}
		select {
		case sub.ch <- batch:
		case <-sub.done:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// EndStreams ends every open stream: with status OK when err is nil (the
// subscriber reads io.EOF), else with err (a status error, or any error,
// which grpc answers as Unknown).
func (s *Server) EndStreams(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for sub := range s.subs {
		select {
		case sub.end <- err:
		default: // already told to end
		}
	}
}

// Refuse makes the server answer every new subscription with err; nil
// accepts again.
func (s *Server) Refuse(err error) { s.gate.Refuse(err) }

// Stall makes the open streams and new ones send nothing until Resume,
// while they stay open: played envelopes wait, and Publish blocks once each
// stream holds the batch it took last. EndStreams, Crash and Close still
// end stalled streams.
func (s *Server) Stall() { s.gate.Stall() }

// Resume ends a Stall.
func (s *Server) Resume() { s.gate.Resume() }

// Crash stops the server at once, as a crashed router: the listener and
// every connection close and the subscriptions end. What it recorded
// stays; Restart serves again.
func (s *Server) Crash() { s.host.Crash() }

// Restart serves again on the same address after Crash.
func (s *Server) Restart() error { return s.host.Restart() }

// ResetConnections resets every TCP connection, as a network fault would;
// the server goes on serving.
func (s *Server) ResetConnections() { s.host.ResetConnections() }

// Shutdown ends every stream with status OK and stops the server, waiting
// for the handlers; when ctx ends first it stops at once and returns ctx's
// error. Safe to call twice.
func (s *Server) Shutdown(ctx context.Context) error {
	s.EndStreams(nil)
	return s.host.Shutdown(ctx)
}

// Close stops the server at once and waits for its goroutines. Safe to call
// twice.
func (s *Server) Close() error { return s.host.Close() }

// filter returns the envelopes sub's selectors match.
func (sub *subscription) filter(envs [][]byte, routes []envelope.Route) [][]byte {
	var out [][]byte
	for i := range envs {
		for _, sel := range sub.sels {
			if sel.MatchesRoute(&routes[i]) {
				out = append(out, envs[i])
				break
			}
		}
	}
	return out
}

// handler serves Egress for a Server; its methods are not part of the
// Server's API.
type handler struct{ s *Server }

func (h handler) Receiver(req *envelope.EgressRequest, st grpc.ServerStream) error {
	return h.s.serve(Receiver, &envelope.EgressBatchRequest{
		ShardId:           req.GetShardId(),
		LegacySelector:    req.GetLegacySelector(),
		UsePreferredTags:  req.GetUsePreferredTags(),
		Selectors:         req.GetSelectors(),
		DeterministicName: req.GetDeterministicName(),
	}, st)
}

func (h handler) BatchedReceiver(req *envelope.EgressBatchRequest, st grpc.ServerStream) error {
	return h.s.serve(BatchedReceiver, req, st)
}

func (s *Server) serve(method string, req *envelope.EgressBatchRequest, st grpc.ServerStream) error {
	s.mu.Lock()
	s.reqs = append(s.reqs, Request{Method: method, EgressBatchRequest: req})
	s.mu.Unlock()
	s.changed.Notify()
	if err := s.gate.Refusal(); err != nil {
		return err
	}
	sels, err := envelope.RequestSelectors(req)
	if err != nil {
		return status.Error(codes.InvalidArgument, err.Error())
	}
	sub := &subscription{method: method, sels: sels, ch: make(chan [][]byte), done: make(chan struct{}), end: make(chan error, 1)}
	s.mu.Lock()
	s.subs[sub] = struct{}{}
	s.mu.Unlock()
	s.changed.Notify()
	defer func() {
		s.mu.Lock()
		delete(s.subs, sub)
		close(sub.done)
		s.mu.Unlock()
		s.changed.Notify()
	}()

	ctx := st.Context()
	if len(s.play) > 0 {
		routes := make([]envelope.Route, len(s.play))
		for i, b := range s.play {
			routes[i], _ = envelope.ReadRoute(b) // marshaled by NewServer
		}
		played := sub.filter(s.play, routes)
		for len(played) > 0 {
			n := min(len(played), s.cfg.batchSize)
			if err := s.send(ctx, sub, st, played[:n]); err != nil {
				return err
			}
			played = played[n:]
		}
	}
	if s.cfg.end {
		return s.cfg.endErr
	}
	for {
		if end, err := s.hold(ctx, sub); end {
			return err
		}
		select {
		case <-ctx.Done():
			return status.FromContextError(ctx.Err()).Err()
		case err := <-sub.end:
			return err
		case b := <-sub.ch:
			if err := s.send(ctx, sub, st, b); err != nil {
				return err
			}
		}
	}
}

// hold waits out a stall. It reports whether the stream is to end first
// (EndStreams, or its context ended), and with what error.
func (s *Server) hold(ctx context.Context, sub *subscription) (bool, error) {
	select {
	case err := <-sub.end:
		return true, err
	default:
	}
	resumed := s.gate.Resumed()
	if resumed == nil {
		return false, nil
	}
	select {
	case <-resumed:
		return false, nil
	case <-ctx.Done():
		return true, status.FromContextError(ctx.Err()).Err()
	case err := <-sub.end:
		return true, err
	}
}

// send sends batch on st (one message per envelope on Receiver), after any
// stall, unless the stream is told to end first.
func (s *Server) send(ctx context.Context, sub *subscription, st grpc.ServerStream, batch [][]byte) error {
	if end, err := s.hold(ctx, sub); end {
		return err
	}
	if sub.method == Receiver {
		for _, e := range batch {
			if err := st.SendMsg(&wire.Envelope{Raw: e}); err != nil {
				return err
			}
			s.count(1)
		}
		return nil
	}
	if err := st.SendMsg(&wire.Batch{Envelopes: batch}); err != nil {
		return err
	}
	s.count(len(batch))
	return nil
}

func (s *Server) count(n int) {
	s.mu.Lock()
	s.sent += uint64(n)
	s.mu.Unlock()
}
