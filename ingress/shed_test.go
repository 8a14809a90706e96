package ingress

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sluicelog/sluice/diode"
	"github.com/sluicelog/sluice/envelope"
	"github.com/sluicelog/sluice/internal/buftest"
	"github.com/sluicelog/sluice/internal/wire"
	"github.com/sluicelog/sluice/limit"
)

// With WithShedWhenFull a batch that arrives while the buffer is full is
// dropped whole at the edge and counted under CauseShed; the stream goes on
// and a batch arriving once there is room is accepted. Without it the same
// batches go to the buffer, which drops them (overflow).
func TestShedWhenFull(t *testing.T) {
	for _, shed := range []bool{true, false} {
		t.Run(map[bool]string{true: "shed", false: "no shed"}[shed], func(t *testing.T) {
			tp := newTLS(t)
			buf, err := diode.NewChannel[[]byte](10)
			require.NoError(t, err)
			opts := []ServerOption{WithTLS(tp.server)}
			if shed {
				opts = append(opts, WithShedWhenFull())
			}
			s, addr := startServer(t, buf, opts...)
			cc := dial(t, addr, tp.client)
			ctx := testCtx(t)

			fill := &wire.Batch{Raw: envelope.AppendBatch(nil, logs(t, "fill", 10))}
			over := &wire.Batch{Raw: envelope.AppendBatch(nil, logs(t, "over", 5))}
			require.True(t, wire.Confirmed(sendBatches(ctx, cc, fill, over)))
			st := s.Stats()
			held := buftest.Drain(buf)
			require.Len(t, held, 10)
			assert.Equal(t, "fill", decode(t, held[0]).GetSourceId())
			if shed {
				assert.Equal(t, uint64(10), st.Ingress)
				assert.Equal(t, uint64(5), st.Dropped[CauseShed])
				assert.Equal(t, uint64(0), st.Dropped[CauseOverflow])
			} else {
				assert.Equal(t, uint64(15), st.Ingress)
				assert.Equal(t, uint64(0), st.Dropped[CauseShed])
				assert.Equal(t, uint64(5), st.Dropped[CauseOverflow])
			}

			// Room again: the next batch is accepted.
			require.True(t, wire.Confirmed(sendBatches(ctx, cc, over)))
			assert.Len(t, buftest.Drain(buf), 5)
		})
	}
}

// A batch whose framing does not split is refused as malformed even while
// the buffer is full: shedding counts envelopes only of batches it can split.
func TestShedRefusesBadFraming(t *testing.T) {
	tp := newTLS(t)
	buf, err := diode.NewChannel[[]byte](1)
	require.NoError(t, err)
	s, addr := startServer(t, buf, WithTLS(tp.server), WithShedWhenFull())
	cc := dial(t, addr, tp.client)
	ctx := testCtx(t)
	fill := &wire.Batch{Raw: envelope.AppendBatch(nil, logs(t, "fill", 1))}
	bad := &wire.Batch{Raw: []byte{0x0a, 0x7f, 0x01}} // an envelope field longer than the batch
	err = sendBatches(ctx, cc, fill, bad)
	assert.False(t, wire.Confirmed(err))
	assert.Equal(t, uint64(1), s.Stats().Rejected.Malformed)
	assert.Equal(t, uint64(0), s.Stats().Dropped[CauseShed])
}

// The fair policy's buffer reports full; a ring never does.
func TestBuffersReportFull(t *testing.T) {
	fair, err := limit.NewBuffer(limit.BufferConfig{Policy: limit.PolicyFair, Size: 2})
	require.NoError(t, err)
	defer fair.Close()
	ring, err := limit.NewBuffer(limit.BufferConfig{Policy: limit.PolicyRing, Size: 2})
	require.NoError(t, err)
	defer ring.Close()
	for _, b := range []*limit.Buffer{fair, ring} {
		assert.False(t, b.Full())
		b.Set(logs(t, "a", 1)[0])
		b.Set(logs(t, "a", 1)[0])
	}
	assert.True(t, fair.Full())
	assert.False(t, ring.Full())
	_, ok := fair.TryNext()
	require.True(t, ok)
	assert.False(t, fair.Full())
}
