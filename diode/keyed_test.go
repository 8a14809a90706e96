package diode

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// SetBatch gives what Set gives element for element: the same elements
// read in the same order, the same drops (when full and when over its
// bytes), the same Stats and the same counts told to the tally.
func TestFairSetBatchSameAsSet(t *testing.T) {
	for _, maxBytes := range []int64{0, 40} {
		t.Run(fmt.Sprintf("maxBytes=%d", maxBytes), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(3, 4))
			mk := func() (*Fair[item], *tallySpy, *int) {
				spy := newTallySpy()
				missed := new(int)
				opts := []Option{WithTally(spy), WithAlert(func(n int) { *missed += n })}
				if maxBytes > 0 {
					opts = append(opts, WithMaxBytes(maxBytes, func(v item) int { return 1 + v.seq%13 }))
				}
				f, err := NewFair(16, itemKey, opts...)
				require.NoError(t, err)
				return f, spy, missed
			}
			one, oneSpy, oneMissed := mk()
			bat, batSpy, batMissed := mk()
			var oneGot, batGot []item
			seq := 0
			for round := range 400 {
				n := rng.IntN(90)
				vs := make([]item, n)
				keys := make([]string, n)
				for i := range vs {
					src := fmt.Sprintf("s%d", rng.IntN(7))
					if i > 0 && rng.IntN(3) == 0 {
						src = vs[i-1].src
					}
					seq++
					vs[i], keys[i] = item{src: src, seq: seq}, src
				}
				for _, v := range vs {
					one.Set(v)
				}
				if round%2 == 0 {
					bat.SetBatch(vs, keys)
				} else {
					for i, v := range vs {
						bat.SetKeyed(v, keys[i])
					}
				}
				for range rng.IntN(30) {
					v1, ok1 := one.TryNext()
					v2, ok2 := bat.TryNext()
					require.Equal(t, ok1, ok2)
					if ok1 {
						oneGot, batGot = append(oneGot, v1), append(batGot, v2)
					}
				}
			}
			for {
				v1, ok1 := one.TryNext()
				v2, ok2 := bat.TryNext()
				require.Equal(t, ok1, ok2)
				if !ok1 {
					break
				}
				oneGot, batGot = append(oneGot, v1), append(batGot, v2)
			}
			assert.Equal(t, oneGot, batGot)
			assert.Equal(t, one.Stats(), bat.Stats())
			st := bat.Stats()
			assert.NotZero(t, st.Dropped)
			assert.Equal(t, st.Written, st.Read+st.Dropped)
			assert.Equal(t, *oneMissed, *batMissed)
			assert.Equal(t, oneSpy.written, batSpy.written)
			assert.Equal(t, oneSpy.dropped, batSpy.dropped)
		})
	}
}

// A batch allocates nothing.
func TestFairSetBatchAllocs(t *testing.T) {
	f, err := NewFair(1024, itemKey)
	require.NoError(t, err)
	vs := make([]item, 100)
	keys := make([]string, 100)
	for i := range vs {
		vs[i] = item{src: fmt.Sprintf("s%d", i%17), seq: i}
		keys[i] = vs[i].src
	}
	allocs := testing.AllocsPerRun(100, func() {
		f.SetBatch(vs, keys)
		for range vs {
			f.TryNext()
		}
	})
	assert.Zero(t, allocs)
}

// With many sources (the index grows into its room as they come) every
// source is found again: the reader serves each in turn, its elements in
// order, and a full buffer drops from the heaviest.
func TestFairManySources(t *testing.T) {
	const n = 1000
	f, err := NewFair(3*n, itemKey)
	require.NoError(t, err)
	for seq := range 3 {
		for i := range n {
			f.Set(item{src: fmt.Sprint("s", i), seq: seq})
		}
	}
	f.Set(item{src: "s7", seq: 3}) // full: s7 loses its oldest
	seen := map[string]int{}
	for r := range 3*n + 0 {
		v, ok := f.TryNext()
		require.True(t, ok)
		if r < n {
			require.Equal(t, fmt.Sprint("s", r), v.src, "round one: each source in turn")
		}
		want := seen[v.src]
		if v.src == "s7" {
			want++
		}
		require.Equal(t, want, v.seq, "source %s in order", v.src)
		seen[v.src]++
	}
	_, ok := f.TryNext()
	assert.False(t, ok)
	assert.Len(t, seen, n)
	st := f.Stats()
	assert.Equal(t, Stats{Written: 3*n + 1, Read: 3 * n, Dropped: 1}, st)
}
