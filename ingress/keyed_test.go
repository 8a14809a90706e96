package ingress

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sluicelog/sluice/diode"
	"github.com/sluicelog/sluice/envelope"
	"github.com/sluicelog/sluice/internal/buftest"
	"github.com/sluicelog/sluice/internal/wire"
	"github.com/sluicelog/sluice/limit"
)

// keyedSpy is a diode.Keyed that records the source IDs it is handed and
// how: per batch (SetBatch), per envelope (SetKeyed), or without (Set).
type keyedSpy struct {
	*diode.ManyToOne[[]byte]
	mu      sync.Mutex
	ids     []string // in the order handed, each with its envelope in envs
	envs    [][]byte
	batches []int // sizes of the SetBatch calls
	keyed   int   // SetKeyed calls
	plain   int   // Set calls
}

func (k *keyedSpy) Set(e []byte) {
	k.mu.Lock()
	k.plain++
	k.mu.Unlock()
	k.ManyToOne.Set(e)
}

func (k *keyedSpy) SetKeyed(e []byte, id string) {
	k.mu.Lock()
	k.keyed++
	k.ids, k.envs = append(k.ids, id), append(k.envs, e)
	k.mu.Unlock()
	k.ManyToOne.Set(e)
}

func (k *keyedSpy) SetBatch(es [][]byte, ids []string) {
	k.mu.Lock()
	k.batches = append(k.batches, len(es))
	k.ids, k.envs = append(k.ids, ids[:len(es)]...), append(k.envs, es...)
	k.mu.Unlock()
	for _, e := range es {
		k.ManyToOne.Set(e)
	}
}

// originTagged returns the wire bytes of an envelope without a source ID
// whose origin tag names one.
func originTagged(t *testing.T, origin string) []byte {
	return marshal(t, envelope.NewLog("", []byte("x"), envelope.WithTag("origin", origin)))
}

// Over real gRPC with mutual TLS, every method hands a keyed buffer each
// envelope with its source ID, the one filled from the origin tag
// included: BatchSender and Send a batch per call, Sender one by one.
func TestServerHandsSourceIDs(t *testing.T) {
	tp := newTLS(t)
	spy := &keyedSpy{ManyToOne: newBuffer(t)}
	_, addr := startServer(t, spy, WithTLS(tp.server))
	cc := dial(t, addr, tp.client)
	ctx := testCtx(t)

	batch := append(logs(t, "app-a", 2), originTagged(t, "from-origin"))
	batch = append(batch, logs(t, "app-b", 1)...)
	batch = append(batch, marshal(t, envelope.NewLog("", []byte("no origin"))))
	wantIDs := []string{"app-a", "app-a", "from-origin", "app-b", ""}
	require.NoError(t, sendBatches(ctx, cc, &wire.Batch{Envelopes: batch}, &wire.Batch{Envelopes: batch[1:3]}))
	require.NoError(t, wire.Send(ctx, cc, &wire.Batch{Envelopes: batch[2:]}))
	st, err := wire.OpenSender(ctx, cc)
	require.NoError(t, err)
	for _, e := range batch[1:4] {
		require.NoError(t, st.SendMsg(&wire.Envelope{Raw: e}))
	}
	require.NoError(t, st.CloseSend())
	require.NoError(t, st.RecvMsg(&envelope.IngressResponse{}))

	spy.mu.Lock()
	defer spy.mu.Unlock()
	want := append(append(append(append([]string{}, wantIDs...), wantIDs[1:3]...), wantIDs[2:]...), wantIDs[1:4]...)
	assert.Equal(t, want, spy.ids)
	assert.Equal(t, []int{5, 2, 3}, spy.batches)
	assert.Equal(t, 3, spy.keyed)
	assert.Zero(t, spy.plain)
	for i, e := range spy.envs {
		assert.Equal(t, spy.ids[i], limit.SourceID(e), "envelope %d: the ID handed is the one in its bytes", i)
	}
}

// A Limiter behind the Server over real gRPC: it limits and counts by the
// source IDs the Server hands it, the one filled from the origin tag
// included, exactly.
func TestServerFeedsLimiter(t *testing.T) {
	tp := newTLS(t)
	ring := newBuffer(t)
	sum := limit.NewSummary(0)
	start := time.Unix(1_700_000_000, 0)
	lim, err := limit.New(ring, limit.Config{Default: limit.Limit{Rate: 1, Burst: 3}},
		limit.WithClock(func() time.Time { return start }), limit.WithSummary(sum))
	require.NoError(t, err)
	t.Cleanup(func() { _ = lim.Close() })
	_, addr := startServer(t, lim, WithTLS(tp.server))
	cc := dial(t, addr, tp.client)
	ctx := testCtx(t)

	var batch [][]byte
	for range 5 {
		batch = append(batch, logs(t, "noisy", 1)...)
		batch = append(batch, originTagged(t, "filled"))
	}
	batch = append(batch, logs(t, "quiet", 2)...)
	require.NoError(t, sendBatches(ctx, cc, &wire.Batch{Envelopes: batch}))

	assert.Equal(t, uint64(4), lim.Counts().RateLimited, "noisy and filled: 5 each, 3 pass")
	got := buftest.Drain(lim)
	assert.Len(t, got, 8)
	st := lim.Stats()
	assert.Equal(t, uint64(12), st.Written)
	assert.Equal(t, st.Written, st.Read+st.Dropped)
	snap := sum.Snapshot()
	assert.Equal(t, []limit.SourceCount{{SourceID: "filled", Count: 5}, {SourceID: "noisy", Count: 5}, {SourceID: "quiet", Count: 2}}, snap.Sent)
	assert.Equal(t, []limit.SourceCount{{SourceID: "filled", Count: 2}, {SourceID: "noisy", Count: 2}}, snap.Dropped)
}

// A plain diode.Fair is given no keys: its key is its own key function's.
func TestKeyedBuffer(t *testing.T) {
	f, err := diode.NewFair[[]byte](4, func([]byte) string { return "" })
	require.NoError(t, err)
	assert.Nil(t, keyedBuffer(f))
	assert.Nil(t, keyedBuffer(newBuffer(t)))
	lf, err := limit.NewFair(4)
	require.NoError(t, err)
	assert.NotNil(t, keyedBuffer(lf))
}

// Accepting a batch into a Limiter in front of NewFair's buffer, the
// source IDs handed over, allocates nothing once the stream's slices have
// grown.
func TestAcceptBatchKeyedAllocs(t *testing.T) {
	lim := unlimited(t)
	s, err := NewServer(lim)
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	envs, raw := manySources(t)
	var msg wire.Batch
	allocs := testing.AllocsPerRun(50, func() {
		msg.Raw = raw
		require.NoError(t, s.acceptBatch(&msg))
		for range envs {
			lim.TryNext()
		}
	})
	assert.Zero(t, allocs)
	assert.Equal(t, uint64(51*100), lim.Stats().Read)
}

// unlimited returns a Limiter (with a summary) in front of NewFair's
// buffer, whose limit nothing reaches: a keyed buffer that takes source IDs.
func unlimited(t *testing.T) *limit.Limiter {
	fair, err := limit.NewFair(1 << 12)
	require.NoError(t, err)
	lim, err := limit.New(fair, limit.Config{Default: limit.Limit{Rate: 1e9, Burst: 1 << 30}}, limit.WithSummary(limit.NewSummary(0)))
	require.NoError(t, err)
	t.Cleanup(func() { _ = lim.Close() })
	return lim
}

// manySources returns 100 log envelopes of 37 sources and their batch.
func manySources(t *testing.T) (envs [][]byte, raw []byte) {
	for i := range 100 {
		envs = append(envs, logs(t, fmt.Sprint("app-", i%37), 1)...)
	}
	return envs, envelope.AppendBatch(nil, envs)
}
