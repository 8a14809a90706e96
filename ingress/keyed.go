package ingress

import (
	"github.com/sluicelog/sluice/diode"
	"github.com/sluicelog/sluice/envelope"
)

// The Server reads every envelope's source ID while it validates it. A
// buffer that takes the source IDs with the envelopes (diode.Keyed whose
// key is the source ID: package limit's Limiter, NewFair and Buffer) is
// given them, so that it does not read them from the wire bytes again,
// and a batch at a time (SetBatch), so that it takes its locks once per
// batch. A plain diode.Fair is not: its key is what its own key function
// says, which the Server does not know.

// keyedBuffer returns buf as a diode.Keyed to give source IDs to, or nil.
func keyedBuffer(buf diode.Buffer[[]byte]) diode.Keyed[[]byte] {
	if _, ok := buf.(*diode.Fair[[]byte]); ok {
		return nil
	}
	k, _ := buf.(diode.Keyed[[]byte])
	return k
}

// setBatch writes a validated batch into the buffer; ids[i] is the source
// ID of envs[i].
func (s *Server) setBatch(envs [][]byte, ids []string) {
	if s.keyed != nil {
		s.keyed.SetBatch(envs, ids)
		return
	}
	for _, e := range envs {
		s.buf.Set(e)
	}
}

// setOne writes one validated envelope of source id into the buffer.
func (s *Server) setOne(e []byte, id string) {
	if s.keyed != nil {
		s.keyed.SetKeyed(e, id)
		return
	}
	s.buf.Set(e)
}

// filledID returns the source ID of e, which fillOrigin returned: the
// origin it filled in, or "" when e had none. It reads e again, which is
// rare (only envelopes without a source ID come here).
func filledID(e []byte) string {
	r, err := envelope.ReadRouteTrusted(e)
	if err != nil {
		return "" // cannot happen: fillOrigin returns valid envelopes
	}
	return r.SourceID
}
