package ingress

import (
	"context"
	"errors"
	"io"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/sluicelog/sluice/envelope"
	"github.com/sluicelog/sluice/internal/wire"
)

// handler is the Server's wire.IngressHandler; it is a separate type so
// that the handler methods stay out of Server's API.
type handler struct{ s *Server }

var _ wire.IngressHandler = handler{}

func (h handler) BatchSender(st grpc.ServerStream) error {
	s := h.s
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	var (
		b    wire.Batch
		envs [][]byte // reused: the buffer keeps the slices, not this array
	)
	if s.full != nil {
		b.SkipIf = s.skipBatch // shed before the codec copies the message
	}
	for {
		s.room(st.Context(), &b) // WithWaitWhenFull: push back while the buffer is full
		if err := st.RecvMsg(&b); err != nil {
			if err == io.EOF {
				return st.SendMsg(&envelope.BatchSenderResponse{})
			}
			return s.recvError(err)
		}
		if b.Skipped {
			s.shed.Add(uint64(b.SkippedEnvelopes))
			continue
		}
		b.Envelopes = envs[:0]
		if err := s.acceptBatch(&b); err != nil {
			return err
		}
		envs = b.Envelopes
	}
}

func (h handler) Send(_ context.Context, b *wire.Batch) error {
	s := h.s
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	return s.acceptUnary(b) // unary.go
}

func (h handler) Sender(st grpc.ServerStream) error {
	s := h.s
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	var e wire.Envelope
	for i := 0; ; i++ {
		if err := st.RecvMsg(&e); err != nil {
			if err == io.EOF {
				return st.SendMsg(&envelope.IngressResponse{})
			}
			return s.recvError(err)
		}
		if err := s.check(len(e.Raw), "envelope"); err != nil {
			return err
		}
		r, err := envelope.ReadRoute(e.Raw)
		if err != nil {
			s.malformed.Add(1)
			s.cfg.logger.Warn("ingress: malformed envelope refused", "index", i, "err", err)
			return status.Errorf(codes.InvalidArgument, "ingress: envelope %d of stream refused: %v", i, err)
		}
		raw, id := e.Raw, r.SourceID
		if id == "" {
			raw = s.fillOrigin(raw)
			id = filledID(raw)
		}
		s.setOne(raw, id)
		s.ingress.Add(1)
	}
}

// recvError counts a message grpc refused for its size and passes err on.
func (s *Server) recvError(err error) error {
	if status.Code(err) == codes.ResourceExhausted {
		s.tooLarge.Add(1)
		s.cfg.logger.Warn("ingress: message over the size limit refused", "err", err)
	}
	return err
}

// check refuses a message after Close or over the size limit.
func (s *Server) check(size int, what string) error {
	if s.closed.Load() {
		s.refused.Add(1)
		return errClosedStatus
	}
	if size > s.cfg.maxMsg {
		s.tooLarge.Add(1)
		s.cfg.logger.Warn("ingress: message over the size limit refused", "size", size, "max", s.cfg.maxMsg)
		return status.Errorf(codes.ResourceExhausted, "ingress: %s of %d bytes is larger than the maximum %d", what, size, s.cfg.maxMsg)
	}
	return nil
}

// acceptBatch validates a whole batch and only then writes its envelopes
// into the buffer: a batch with one malformed envelope is refused whole.
func (s *Server) acceptBatch(b *wire.Batch) error {
	if err := s.check(len(b.Raw), "batch"); err != nil {
		return err
	}
	if s.shedBatch(b.Raw, &b.Envelopes) {
		return nil
	}
	var sourceless [4]int // the indexes of envelopes without a source ID; rare
	b.WantSourceIDs = s.keyed != nil
	empty, err := b.SplitSourceless(sourceless[:0])
	if err != nil {
		s.malformed.Add(1)
		s.cfg.logger.Warn("ingress: malformed batch refused", "err", err)
		if !errors.Is(err, envelope.ErrMalformed) {
			return status.Errorf(codes.Internal, "ingress: %v", err)
		}
		return status.Errorf(codes.InvalidArgument, "ingress: batch refused: %v", err)
	}
	for _, i := range empty {
		b.Envelopes[i] = s.fillOrigin(b.Envelopes[i])
		if b.WantSourceIDs {
			b.SourceIDs[i] = filledID(b.Envelopes[i])
		}
	}
	s.setBatch(b.Envelopes, b.SourceIDs)
	s.ingress.Add(uint64(len(b.Envelopes)))
	return nil
}

// fillOrigin returns e with its source ID set from its origin tag (tags,
// then the text of deprecated_tags), re-encoded; or e as it is when there
// is no origin. This is the one place the Server decodes an envelope,
// because the protocol forces it (Loggregator's agent does the same).
func (s *Server) fillOrigin(e []byte) []byte {
	var env envelope.Envelope
	if err := proto.Unmarshal(e, &env); err != nil {
		return e // cannot happen: e was validated
	}
	origin := env.GetTags()["origin"]
	if origin == "" {
		origin = env.GetDeprecatedTags()["origin"].GetText()
	}
	if origin == "" {
		return e
	}
	env.SourceId = origin
	out, err := proto.Marshal(&env)
	if err != nil {
		return e
	}
	s.originFilled.Add(1)
	return out
}
