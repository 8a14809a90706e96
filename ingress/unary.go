package ingress

import (
	"sync"

	"github.com/sluicelog/sluice/internal/wire"
)

// A BatchSender stream splits every batch into storage it keeps for the
// stream. A unary Send cannot: grpc decodes each call into a new
// wire.Batch, so each call would grow its own envelope slice and, for a
// buffer that takes source IDs, its own source-ID slice (16 allocations
// for 100 envelopes). It borrows the storage of an earlier call instead.
// The buffer keeps the envelopes and source IDs, never these arrays, so
// they are free again when the batch is in.

// splitStorage is the storage one call splits its batch into.
type splitStorage struct {
	envs [][]byte
	ids  []string
}

// maxPooledEnvelopes bounds the storage kept for later calls, so that one
// huge batch does not pin its arrays for good.
const maxPooledEnvelopes = 4096

var splitStorages = sync.Pool{New: func() any { return new(splitStorage) }}

// acceptUnary is acceptBatch for the batch of a unary Send, split into
// borrowed storage, which b does not keep.
func (s *Server) acceptUnary(b *wire.Batch) error {
	st := splitStorages.Get().(*splitStorage)
	b.Envelopes, b.SourceIDs = st.envs[:0], st.ids[:0]
	err := s.acceptBatch(b)
	envs, ids := b.Envelopes, b.SourceIDs
	b.Envelopes, b.SourceIDs = nil, nil
	if cap(envs) > maxPooledEnvelopes || cap(ids) > maxPooledEnvelopes {
		return err
	}
	// Forget the envelopes: pooled storage must not hold the message.
	clear(envs)
	clear(ids)
	st.envs, st.ids = envs[:0], ids[:0]
	splitStorages.Put(st)
	return err
}
