package ingress

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sluicelog/sluice/diode"
	"github.com/sluicelog/sluice/internal/wire"
	"github.com/sluicelog/sluice/limit"
)

// A unary Send splits its batch into reused storage: grpc hands each call
// a new wire.Batch, and without it every call grew its own envelope slice
// and, for a buffer that takes source IDs, its own source-ID slice. Once
// warm, the Server's part of a call of 100 envelopes allocates nothing,
// into a keyed buffer (a Limiter in front of NewFair's) or a plain diode.
// (With the race detector sync.Pool drops at random: the count is not
// checked then.)
func TestSendAllocs(t *testing.T) {
	lim := unlimited(t)
	ring, err := diode.NewManyToOne[[]byte](1 << 12)
	require.NoError(t, err)
	envs, raw := manySources(t)
	for _, tt := range []struct {
		name string
		buf  diode.Buffer[[]byte]
	}{{"keyed", lim}, {"plain", ring}} {
		t.Run(tt.name, func(t *testing.T) {
			s, err := NewServer(tt.buf)
			require.NoError(t, err)
			t.Cleanup(func() { s.Close() })
			h, ctx := handler{s}, context.Background()
			var msg wire.Batch
			allocs := testing.AllocsPerRun(50, func() {
				msg = wire.Batch{Raw: raw} // as grpc decodes each call: no storage
				require.NoError(t, h.Send(ctx, &msg))
				for range envs {
					tt.buf.TryNext()
				}
			})
			if !raceEnabled {
				assert.Zero(t, allocs)
			}
			assert.True(t, msg.Envelopes == nil && msg.SourceIDs == nil, "the call's storage is not left with the message")
			assert.Equal(t, uint64(51*100), s.Stats().Ingress)
		})
	}
}

// Concurrent unary Sends over real gRPC with mutual TLS, each of its own
// source, into a keyed buffer: every envelope is handed with its own
// source ID (calls do not share their storage).
func TestConcurrentSendsKeepSourceIDs(t *testing.T) {
	tp := newTLS(t)
	spy := &keyedSpy{ManyToOne: newBuffer(t)}
	_, addr := startServer(t, spy, WithTLS(tp.server))
	cc := dial(t, addr, tp.client)
	ctx := testCtx(t)
	const senders, calls = 8, 20
	var wg sync.WaitGroup
	for i := range senders {
		batch := logs(t, fmt.Sprint("src-", i), 3+i)
		wg.Go(func() {
			for range calls {
				assert.NoError(t, wire.Send(ctx, cc, &wire.Batch{Envelopes: batch}))
			}
		})
	}
	wg.Wait()

	spy.mu.Lock()
	defer spy.mu.Unlock()
	assert.Len(t, spy.batches, senders*calls)
	want := 0
	for i := range senders {
		want += calls * (3 + i)
	}
	require.Len(t, spy.envs, want)
	for i, e := range spy.envs {
		assert.Equal(t, limit.SourceID(e), spy.ids[i], "envelope %d", i)
	}
}
