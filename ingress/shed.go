package ingress

import "github.com/sluicelog/sluice/envelope"

// CauseShed: a batch that arrived while the buffer was full, dropped
// whole at the edge before it was validated (WithShedWhenFull).
const CauseShed = "shed"

// WithShedWhenFull makes the Server drop, whole, every batch (BatchSender,
// Send) that arrives while its buffer reports full, before validating it
// (on BatchSender before even copying it out of grpc's buffers):
// a router offered more than it can route then spends its CPU routing what
// it took in instead of validating envelopes only for the buffer to drop
// them. The envelopes are counted in ServerStats.Dropped under CauseShed
// (`dropped{direction=ingress,cause=shed}`), and the stream goes on. Only
// a buffer with a Full() bool method can be full: diode.Fair, diode.Channel
// and a limit.Buffer of the fair policy; with others (a ring, which takes
// every envelope and drops laps) the option does nothing. With the fair
// policy it trades fairness for CPU while the buffer is full: a batch is
// shed whoever sent it, where the buffer would have dropped the heaviest
// source's oldest envelopes. Off by default.
func WithShedWhenFull() ServerOption {
	return serverOptionFunc(func(c *serverConfig) { c.shed = true })
}

// skipBatch tells the codec whether to shed a BatchSender message of size
// bytes before copying it: shedding is on, the buffer is full, and the
// message is one the Server would not refuse (open, within the size limit).
func (s *Server) skipBatch(size int) bool {
	return size <= s.cfg.maxMsg && !s.closed.Load() && s.full.Full()
}

// fullBuffer is a buffer that can tell it is full.
type fullBuffer interface{ Full() bool }

// shedBatch drops b whole, counting its envelopes, when shedding is on and
// the buffer is full. It reports whether it did; a batch whose framing
// does not split is left to the ordinary path, which refuses it.
func (s *Server) shedBatch(b []byte, envs *[][]byte) bool {
	if s.full == nil || !s.full.Full() {
		return false
	}
	split, err := envelope.SplitBatch(b, (*envs)[:0])
	*envs = split
	if err != nil {
		return false
	}
	s.shed.Add(uint64(len(split)))
	return true
}
