package limit_test

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sluicelog/sluice/diode"
	"github.com/sluicelog/sluice/limit"
)

// A batch mixing sources over their limits: SetBatch limits each source
// exactly as Set does, and counts per source in the Summary.
func TestSetBatchExactPerSource(t *testing.T) {
	clk := newFakeClock()
	sum := limit.NewSummary(0)
	l, buf := newLimiter(t, limit.Config{
		Default: limit.Limit{Rate: 1, Burst: 3},
		Sources: map[string]limit.Limit{"vip": {Rate: 1, Burst: 10}},
	}, limit.WithClock(clk.Now), limit.WithSummary(sum))

	// 5 of a, 2 of b, 7 of vip, 4 of c, interleaved and in runs, across
	// more than one 64-envelope chunk for a.
	var es [][]byte
	var ids []string
	add := func(id string, n int) {
		for range n {
			es = append(es, env(t, id))
			ids = append(ids, id)
		}
	}
	add("a", 2)
	add("b", 1)
	add("vip", 7)
	add("a", 1)
	add("c", 4)
	add("b", 1)
	add("a", 62) // 65 of a in all
	l.SetBatch(es, ids)

	c := l.Counts()
	assert.Equal(t, uint64(62+1), c.RateLimited, "a: 65-3, c: 4-3")
	assert.Equal(t, 4, c.Sources)
	got := drain(buf)
	require.Len(t, got, 3+2+7+3)
	for i, g := range got {
		assert.Equal(t, limit.SourceID(g), []string{"a", "a", "b", "vip", "vip", "vip", "vip", "vip", "vip", "vip", "a", "c", "c", "c", "b"}[i], "envelope %d in order", i)
	}
	st := l.Stats()
	assert.Equal(t, uint64(len(es)), st.Written)
	assert.Equal(t, st.Written, st.Read+st.Dropped)

	snap := sum.Snapshot()
	assert.Equal(t, []limit.SourceCount{{SourceID: "a", Count: 65}, {SourceID: "vip", Count: 7}, {SourceID: "c", Count: 4}, {SourceID: "b", Count: 2}}, snap.Sent)
	assert.Equal(t, []limit.SourceCount{{SourceID: "a", Count: 62}, {SourceID: "c", Count: 1}}, snap.Dropped)

	// A second later each default bucket has one token more.
	clk.Advance(time.Second)
	l.SetBatch(es[:4], ids[:4]) // a a b vip
	assert.Equal(t, uint64(63+1), l.Counts().RateLimited, "the second a is limited")
}

// SetBatch and SetKeyed give what Set gives, envelope for envelope, over
// random batches: the same envelopes pass, in the same order, with the
// same counts, Summary and Stats, in front of a ring and of NewFair's
// buffer, with the table of sources full (overflow and eviction).
func TestSetBatchSameAsSet(t *testing.T) {
	for _, fair := range []bool{false, true} {
		t.Run(fmt.Sprintf("fair=%v", fair), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, 2))
			cfg := limit.Config{
				Default: limit.Limit{Rate: 50, Burst: 4},
				Sources: map[string]limit.Limit{"s3": {Rate: 500, Burst: 20}},
			}
			mk := func() (*limit.Limiter, diode.Buffer[[]byte], *limit.Summary, *fakeClock) {
				var buf diode.Buffer[[]byte]
				var err error
				if fair {
					buf, err = limit.NewFair(64)
				} else {
					buf, err = diode.NewChannel[[]byte](1 << 16)
				}
				require.NoError(t, err)
				clk := newFakeClock()
				sum := limit.NewSummary(0)
				l, err := limit.New(buf, cfg, limit.WithClock(clk.Now), limit.WithSummary(sum),
					limit.WithMaxSources(6), limit.WithIdleTimeout(50*time.Millisecond))
				require.NoError(t, err)
				t.Cleanup(func() { _ = l.Close() })
				return l, buf, sum, clk
			}
			one, oneBuf, oneSum, oneClk := mk()
			bat, batBuf, batSum, batClk := mk()
			envs := make([][]byte, 10)
			for i := range envs {
				envs[i] = env(t, fmt.Sprintf("s%d", i))
			}
			var oneGot, batGot [][]byte
			for round := range 300 {
				n := rng.IntN(150)
				es := make([][]byte, n)
				ids := make([]string, n)
				for i := range es {
					k := rng.IntN(len(envs))
					if i > 0 && rng.IntN(3) == 0 {
						k = int(ids[i-1][1] - '0') // runs of one source
					}
					es[i], ids[i] = envs[k], limit.SourceID(envs[k])
				}
				for _, e := range es {
					one.Set(e)
				}
				if round%2 == 0 {
					bat.SetBatch(es, ids)
				} else {
					for i, e := range es {
						bat.SetKeyed(e, ids[i])
					}
				}
				if round%5 == 0 {
					oneGot = append(oneGot, drain(oneBuf)...)
					batGot = append(batGot, drain(batBuf)...)
				}
				d := time.Duration(rng.IntN(40)) * time.Millisecond
				oneClk.Advance(d)
				batClk.Advance(d)
			}
			oneGot = append(oneGot, drain(oneBuf)...)
			batGot = append(batGot, drain(batBuf)...)
			require.Equal(t, len(oneGot), len(batGot))
			for i := range oneGot {
				require.Equal(t, limit.SourceID(oneGot[i]), limit.SourceID(batGot[i]), "envelope %d", i)
			}
			assert.Equal(t, one.Counts(), bat.Counts())
			assert.NotZero(t, one.Counts().RateLimited)
			assert.NotZero(t, one.Counts().Evicted+one.Counts().Overflow)
			assert.Equal(t, one.Stats(), bat.Stats())
			st := bat.Stats()
			assert.Equal(t, st.Written, st.Read+st.Dropped)
			assert.Equal(t, oneSum.Snapshot(), batSum.Snapshot())
		})
	}
}

// NewBuffer's buffers take source IDs too, whatever the policy, and count
// as they do with Set.
func TestBufferSetBatch(t *testing.T) {
	lim := limit.Config{Default: limit.Limit{Rate: 1, Burst: 2}}
	for _, cfg := range []limit.BufferConfig{
		{Policy: limit.PolicyRing},
		{Policy: limit.PolicyRing, Summarize: true},
		{Policy: limit.PolicyFair, Size: 4},
		{Policy: limit.PolicyRing, Limits: &lim},
		{Policy: limit.PolicyFair, Size: 4, Limits: &lim},
	} {
		t.Run(fmt.Sprintf("%s summarize=%v limits=%v", cfg.Policy, cfg.Summarize, cfg.Limits != nil), func(t *testing.T) {
			b, err := limit.NewBuffer(cfg)
			require.NoError(t, err)
			t.Cleanup(func() { _ = b.Close() })
			es := [][]byte{env(t, "a"), env(t, "a"), env(t, "a"), env(t, "b"), env(t, "a"), env(t, "c")}
			ids := []string{"a", "a", "a", "b", "a", "c"}
			b.SetBatch(es[:5], ids[:5])
			b.SetKeyed(es[5], ids[5])
			got := drain(b)
			st := b.Stats()
			assert.Equal(t, uint64(6), st.Written)
			assert.Equal(t, uint64(len(got)), st.Read)
			assert.Equal(t, st.Written, st.Read+st.Dropped)
			want := 6
			switch {
			case cfg.Limits != nil:
				want = 4 // a: 2 of 4 pass
			case cfg.Policy == limit.PolicyFair:
				want = 4 // holds 4: a loses its 2 oldest
			}
			assert.Len(t, got, want)
			if s := b.Summary(); s != nil {
				snap := s.Snapshot()
				assert.Equal(t, uint64(6), snap.TotalSent)
				assert.Equal(t, uint64(6-want), snap.TotalDropped)
				assert.Equal(t, limit.SourceCount{SourceID: "a", Count: 4}, snap.Sent[0])
			}
		})
	}
}

// A batch allocates nothing, with the Summary, in front of either buffer.
func TestSetBatchAllocs(t *testing.T) {
	for _, name := range []string{"ring", "fair"} {
		t.Run(name, func(t *testing.T) {
			var buf diode.Buffer[[]byte]
			var err error
			if name == "fair" {
				buf, err = limit.NewFair(1 << 12)
			} else {
				buf, err = diode.NewManyToOne[[]byte](1 << 12)
			}
			require.NoError(t, err)
			l, err := limit.New(buf, limit.Config{Default: limit.Limit{Rate: 1e9, Burst: 1 << 30}}, limit.WithSummary(limit.NewSummary(0)))
			require.NoError(t, err)
			t.Cleanup(func() { _ = l.Close() })
			es := make([][]byte, 100)
			ids := make([]string, 100)
			for i := range es {
				es[i] = env(t, fmt.Sprintf("app-%d", i%30))
				ids[i] = limit.SourceID(es[i])
			}
			allocs := testing.AllocsPerRun(100, func() {
				l.SetBatch(es, ids)
				for range es {
					l.TryNext()
				}
			})
			assert.Zero(t, allocs)
		})
	}
}
