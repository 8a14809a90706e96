package diode

import (
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestFairTryNextNIsTryNext feeds two Fair buffers the same random writes
// (more than they hold, from sources of unequal weight) and reads one with
// TryNext and the other with TryNextN in random amounts: they must give
// the same elements in the same order, report the same drops to the alert
// callback, and end with the same Stats.
func TestFairTryNextNIsTryNext(t *testing.T) {
	var alertOne, alertBulk int
	one, err := NewFair(64, itemKey, WithAlert(func(n int) { alertOne += n }))
	require.NoError(t, err)
	bulk, err := NewFair(64, itemKey, WithAlert(func(n int) { alertBulk += n }))
	require.NoError(t, err)
	rng := rand.New(rand.NewPCG(1, 2))
	seq := map[string]int{}
	var gotOne, gotBulk, dst []item
	for range 200 {
		for range rng.IntN(40) {
			src := "s" + strconv.Itoa(min(rng.IntN(12), rng.IntN(12))) // low sources heavier
			v := item{src, seq[src]}
			seq[src]++
			one.Set(v)
			bulk.Set(v)
		}
		n := rng.IntN(50)
		for range n {
			v, ok := one.TryNext()
			if !ok {
				break
			}
			gotOne = append(gotOne, v)
		}
		dst = bulk.TryNextN(dst[:0], n)
		gotBulk = append(gotBulk, dst...)
	}
	for {
		v, ok := one.TryNext()
		if !ok {
			break
		}
		gotOne = append(gotOne, v)
	}
	gotBulk = bulk.TryNextN(gotBulk, 1<<20)
	require.Equal(t, gotOne, gotBulk)
	require.Equal(t, one.Stats(), bulk.Stats())
	require.Equal(t, alertOne, alertBulk)
	st := bulk.Stats()
	require.Equal(t, st.Written, st.Read+st.Dropped)
	require.NotZero(t, st.Dropped, "the test must overfill the buffer")
	require.Equal(t, int(st.Read), len(gotBulk))
	require.Empty(t, bulk.TryNextN(nil, 10))
}

// TestFairTryNextNAllocs: taking a burst into a slice with room allocates
// nothing.
func TestFairTryNextNAllocs(t *testing.T) {
	f, err := NewFair(256, itemKey)
	require.NoError(t, err)
	dst := make([]item, 0, 128)
	srcs := []string{"s0", "s1", "s2", "s3"}
	allocs := testing.AllocsPerRun(100, func() {
		for i := range 128 {
			f.Set(item{srcs[i%4], i})
		}
		dst = f.TryNextN(dst[:0], 128)
	})
	require.Zero(t, allocs)
	require.Len(t, dst, 128)
}

// TryNextN takes from any buffer: one TryNext at a time from a ring, in
// one call from a Fair; at most n, in order.
func TestTryNextN(t *testing.T) {
	ring, err := NewManyToOne[int](8)
	require.NoError(t, err)
	fair, err := NewFair(8, func(int) string { return "one" })
	require.NoError(t, err)
	for i := range 5 {
		ring.Set(i)
		fair.Set(i)
	}
	for _, b := range []Buffer[int]{ring, fair} {
		got := TryNextN[int](b, []int{-1}, 3)
		require.Equal(t, []int{-1, 0, 1, 2}, got)
		require.Equal(t, []int{3, 4}, TryNextN[int](b, nil, 10))
		require.Empty(t, TryNextN[int](b, nil, 10))
		require.Equal(t, uint64(5), b.Stats().Read)
	}
}
