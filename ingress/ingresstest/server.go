package ingresstest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/sluicelog/sluice/envelope"
	"github.com/sluicelog/sluice/internal/testserver"
	"github.com/sluicelog/sluice/internal/wire"
)

// ErrClosed is returned by Restart after Shutdown or Close.
var ErrClosed = errors.New("ingresstest: server closed")

// Server is a loggregator.v2.Ingress server on loopback that records what
// it receives. Its methods may be called from any goroutine.
type Server struct {
	cfg     config
	host    *testserver.Host
	gate    testserver.Gate
	changed testserver.Signal

	mu     sync.Mutex
	envs   [][]byte
	counts Counts
}

// Counts are a Server's counters by method.
type Counts struct {
	Sender, BatchSender, Send Method
}

// Method counts the calls of one Ingress method.
type Method struct {
	// Calls counts the calls (streams, for Sender and BatchSender) opened.
	Calls uint64
	// Messages counts the messages received: envelopes on Sender, batches
	// on BatchSender and Send, refused ones included.
	Messages uint64
	// Envelopes counts the envelopes received.
	Envelopes uint64
	// Refused counts the calls answered with an error: a refusal, a
	// malformed message, Unimplemented for Send with
	// WithLoggregatorAnswers.
	Refused uint64
}

// Envelopes returns the envelopes received by every method.
func (c Counts) Envelopes() uint64 {
	return c.Sender.Envelopes + c.BatchSender.Envelopes + c.Send.Envelopes
}

// NewServer starts a Server; Close it when done.
func NewServer(opts ...Option) (*Server, error) {
	s := &Server{cfg: config{addr: "127.0.0.1:0"}}
	for _, o := range opts {
		if o != nil {
			o.apply(&s.cfg)
		}
	}
	s.gate.Refuse(s.cfg.refusal)
	if s.cfg.stalled {
		s.gate.Stall()
	}
	h, err := testserver.Start(s.cfg.addr, ErrClosed, testserver.ServerOptions(s.cfg.tls, s.cfg.grpcOpts...),
		func(gs *grpc.Server) { wire.RegisterIngress(gs, handler{s}) })
	if err != nil {
		return nil, fmt.Errorf("ingresstest: %w", err)
	}
	s.host = h
	return s, nil
}

// Addr returns the address the server listens on, "127.0.0.1:port".
func (s *Server) Addr() string { return s.host.Addr() }

// Count returns how many envelopes the server has received.
func (s *Server) Count() uint64 { return s.Counts().Envelopes() }

// Counts returns the counters by method.
func (s *Server) Counts() Counts {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counts
}

// Raw returns the wire bytes of every envelope received, in the order
// received (per stream; streams interleave). Empty with WithCountOnly.
func (s *Server) Raw() [][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([][]byte(nil), s.envs...)
}

// Envelopes returns the envelopes received, decoded, in the order of Raw.
func (s *Server) Envelopes() []*envelope.Envelope {
	raw := s.Raw()
	out := make([]*envelope.Envelope, 0, len(raw))
	for _, b := range raw {
		e := new(envelope.Envelope)
		if proto.Unmarshal(b, e) == nil { // received envelopes passed ReadRoute
			out = append(out, e)
		}
	}
	return out
}

// WaitFor waits until the server has received at least n envelopes, or
// returns ctx's error when ctx ends first.
func (s *Server) WaitFor(ctx context.Context, n uint64) error {
	if err := s.changed.Wait(ctx, func() bool { return s.Count() >= n }); err != nil {
		return fmt.Errorf("ingresstest: %d of %d envelopes received: %w", s.Count(), n, err)
	}
	return nil
}

// Refuse makes the server answer every new call, and every open stream at
// its next message or its end, with err (a status error, or any error, which grpc
// answers as Unknown). Refuse(nil) accepts again.
func (s *Server) Refuse(err error) { s.gate.Refuse(err) }

// Stall makes the server stop reading: open streams and new calls wait
// (the client's flow-control window then fills and its sends block) until
// Resume, or until the server crashes or closes.
func (s *Server) Stall() { s.gate.Stall() }

// Resume ends a Stall.
func (s *Server) Resume() { s.gate.Resume() }

// Crash stops the server at once, as a crashed router: the listener and
// every connection close. What it recorded stays; Restart serves again.
func (s *Server) Crash() { s.host.Crash() }

// Restart serves again on the same address after Crash.
func (s *Server) Restart() error { return s.host.Restart() }

// ResetConnections resets every TCP connection, as a network fault would;
// the server goes on serving.
func (s *Server) ResetConnections() { s.host.ResetConnections() }

// Shutdown stops accepting and waits until the running calls end (clients
// close their streams), or stops at once when ctx ends and returns ctx's
// error. Safe to call twice.
func (s *Server) Shutdown(ctx context.Context) error { return s.host.Shutdown(ctx) }

// Close stops the server at once and waits for its goroutines. Safe to call
// twice.
func (s *Server) Close() error { return s.host.Close() }

// update changes the counters (and keeps envs) under the lock and wakes
// WaitFor.
func (s *Server) update(f func(c *Counts), envs [][]byte) {
	s.mu.Lock()
	f(&s.counts)
	if !s.cfg.countOnly {
		s.envs = append(s.envs, envs...)
	}
	s.mu.Unlock()
	s.changed.Notify()
}

func (s *Server) refuse(m func(c *Counts) *Method, err error) error {
	s.update(func(c *Counts) { m(c).Refused++ }, nil)
	return err
}

// stall waits out a stall; it returns the stream's end as a status error.
func (s *Server) stall(ctx context.Context) error {
	if err := s.gate.Pass(ctx); err != nil {
		return status.FromContextError(err).Err()
	}
	return nil
}

// The Method selectors of Counts.
func sender(c *Counts) *Method      { return &c.Sender }
func batchSender(c *Counts) *Method { return &c.BatchSender }
func send(c *Counts) *Method        { return &c.Send }

// handler serves Ingress for a Server; its methods are not part of the
// Server's API.
type handler struct{ s *Server }

func (h handler) Sender(st grpc.ServerStream) error {
	s := h.s
	s.update(func(c *Counts) { c.Sender.Calls++ }, nil)
	if err := s.gate.Refusal(); err != nil {
		return s.refuse(sender, err)
	}
	for {
		if err := s.stall(st.Context()); err != nil {
			return err
		}
		var e wire.Envelope
		if err := st.RecvMsg(&e); err != nil {
			return h.end(st, sender, err, &envelope.IngressResponse{})
		}
		if err := refusal(&s.gate, func() error { _, err := envelope.ReadRoute(e.Raw); return err }); err != nil {
			s.update(func(c *Counts) { c.Sender.Messages++ }, nil)
			return s.refuse(sender, err)
		}
		s.update(func(c *Counts) { c.Sender.Messages++; c.Sender.Envelopes++ }, [][]byte{e.Raw})
	}
}

func (h handler) BatchSender(st grpc.ServerStream) error {
	s := h.s
	s.update(func(c *Counts) { c.BatchSender.Calls++ }, nil)
	if err := s.gate.Refusal(); err != nil {
		return s.refuse(batchSender, err)
	}
	for {
		if err := s.stall(st.Context()); err != nil {
			return err
		}
		var b wire.Batch
		if err := st.RecvMsg(&b); err != nil {
			return h.end(st, batchSender, err, &envelope.BatchSenderResponse{})
		}
		if err := refusal(&s.gate, b.Split); err != nil {
			s.update(func(c *Counts) { c.BatchSender.Messages++ }, nil)
			return s.refuse(batchSender, err)
		}
		s.update(func(c *Counts) {
			c.BatchSender.Messages++
			c.BatchSender.Envelopes += uint64(len(b.Envelopes))
		}, b.Envelopes)
	}
}

// refusal returns the error to answer a received message with: the
// gate's refusal, or InvalidArgument when check finds the message malformed.
func refusal(g *testserver.Gate, check func() error) error {
	if err := g.Refusal(); err != nil {
		return err
	}
	if err := check(); err != nil {
		return status.Error(codes.InvalidArgument, err.Error())
	}
	return nil
}

// end answers the end of a client stream: OK, or Loggregator's Unknown
// "EOF" (its handlers return io.EOF, which grpc sends as Unknown).
func (h handler) end(st grpc.ServerStream, m func(c *Counts) *Method, err error, ok any) error {
	if err != io.EOF {
		return err // the stream broke; nobody hears an answer
	}
	if err := h.s.gate.Refusal(); err != nil {
		return h.s.refuse(m, err)
	}
	if h.s.cfg.loggregator {
		return io.EOF
	}
	return st.SendMsg(ok)
}

func (h handler) Send(ctx context.Context, b *wire.Batch) error {
	s := h.s
	s.update(func(c *Counts) { c.Send.Calls++; c.Send.Messages++ }, nil)
	if err := s.stall(ctx); err != nil {
		return err
	}
	if s.cfg.loggregator {
		return s.refuse(send, status.Error(codes.Unimplemented, "method Send not implemented"))
	}
	if err := refusal(&s.gate, b.Split); err != nil {
		return s.refuse(send, err)
	}
	s.update(func(c *Counts) { c.Send.Envelopes += uint64(len(b.Envelopes)) }, b.Envelopes)
	return nil
}
