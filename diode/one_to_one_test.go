package diode

import (
	"math/rand/v2"
	"testing"
	"unsafe"

	diodes "code.cloudfoundry.org/go-diodes"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestConstructorsRejectSmallSizes(t *testing.T) {
	for _, size := range []int{0, -1} {
		_, err := NewOneToOne[int](size)
		assert.ErrorIs(t, err, ErrInvalidSize)
		assert.ErrorIs(t, err, ErrInvalidConfig)
		_, err = NewManyToOne[int](size)
		assert.ErrorIs(t, err, ErrInvalidSize)
		assert.ErrorIs(t, err, ErrInvalidConfig)
		_, err = NewChannel[int](size)
		assert.ErrorIs(t, err, ErrInvalidSize)
		assert.ErrorIs(t, err, ErrInvalidConfig)
	}
}

// TestOneToOneMatchesGoDiodes drives sluice's OneToOne and go-diodes'
// OneToOne with the same random sequences of writes and reads.
func TestOneToOneMatchesGoDiodes(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 2000 {
		size := 1 + rng.IntN(9)
		writeBias := rng.Float64() // some rounds mostly write, some mostly read
		steps := rng.IntN(200)

		var ourAlerts, theirAlerts []int
		ours, err := NewOneToOne[int](size, WithAlert(func(n int) { ourAlerts = append(ourAlerts, n) }))
		require.NoError(t, err)
		theirs := diodes.NewOneToOne(size, diodes.AlertFunc(func(n int) { theirAlerts = append(theirAlerts, n) }))

		written, read := 0, 0
		var lastDropped uint64
		for step := range steps {
			// Written is exact at every step; Dropped is at least what
			// the reader reported (it also counts what is overwritten
			// ahead of the reader) and never grows back; Read is exact
			// whenever the reader has caught up, and otherwise behind by
			// less than publishEvery (see reader.counts).
			st, dropped := ours.Stats(), uint64(sum(ourAlerts))
			require.Equal(t, uint64(written), st.Written, "round %d step %d", round, step)
			require.GreaterOrEqual(t, st.Dropped, dropped, "round %d step %d", round, step)
			require.GreaterOrEqual(t, st.Dropped, lastDropped, "round %d step %d", round, step)
			require.LessOrEqual(t, st.Dropped+uint64(read), uint64(written), "round %d step %d", round, step)
			lastDropped = st.Dropped
			if uint64(written) == uint64(read)+dropped {
				require.Equal(t, uint64(read), st.Read, "round %d step %d", round, step)
			} else {
				require.LessOrEqual(t, st.Read, uint64(read))
				require.Less(t, uint64(read)-st.Read, uint64(publishEvery))
			}
			if rng.Float64() < writeBias {
				v := written
				written++
				ours.Set(v)
				theirs.Set(diodes.GenericDataType(unsafe.Pointer(&v)))
				continue
			}
			got, ok := ours.TryNext()
			want, wantOK := theirs.TryNext()
			require.Equal(t, wantOK, ok, "round %d step %d size %d", round, step, size)
			if ok {
				read++
				require.Equal(t, *(*int)(want), got, "round %d step %d", round, step)
			}
			require.Equal(t, theirAlerts, ourAlerts, "round %d step %d", round, step)
		}
		// Drain both.
		for {
			got, ok := ours.TryNext()
			want, wantOK := theirs.TryNext()
			require.Equal(t, wantOK, ok, "round %d drain", round)
			if !ok {
				break
			}
			require.Equal(t, *(*int)(want), got)
		}
		// go-diodes may need extra reads to discard stale slots; so may we.
		for range size {
			_, ok := ours.TryNext()
			_, wantOK := theirs.TryNext()
			require.Equal(t, wantOK, ok)
			require.False(t, ok)
		}
		require.Equal(t, theirAlerts, ourAlerts, "round %d", round)

		s := ours.Stats()
		assert.Equal(t, uint64(written), s.Written)
		assert.Equal(t, s.Written, s.Read+s.Dropped, "round %d: %+v", round, s)
		assert.Equal(t, uint64(sum(theirAlerts)), s.Dropped)
	}
}

// drain reads b until it is empty.
func drain[T any](b interface{ TryNext() (T, bool) }) []T {
	var got []T
	for {
		v, ok := b.TryNext()
		if !ok {
			return got
		}
		got = append(got, v)
	}
}

func sum(xs []int) int {
	n := 0
	for _, x := range xs {
		n += x
	}
	return n
}

func TestOneToOneLapsReader(t *testing.T) {
	var missed []int
	d, err := NewOneToOne[int](4, WithAlert(func(n int) { missed = append(missed, n) }))
	require.NoError(t, err)
	for i := range 6 {
		d.Set(i)
	}
	got := drain[int](d)
	// Same as go-diodes: 0..3 skipped when 4 is found in slot 0.
	assert.Equal(t, []int{4, 5}, got)
	assert.Equal(t, []int{4}, missed)
	assert.Equal(t, Stats{Written: 6, Read: 2, Dropped: 4}, d.Stats())
}

func TestRingReleasesReadValues(t *testing.T) {
	d, err := NewOneToOne[*int](2)
	require.NoError(t, err)
	x := 1
	d.Set(&x)
	_, ok := d.TryNext()
	require.True(t, ok)
	for i := range d.r.slots {
		assert.Nil(t, d.r.slots[i].val, "slot %d still holds a pointer", i)
	}
}

// A lapped OneToOne shows what the writer overwrote in Stats before the
// reader comes to it, exactly, growing with every write, and the reader's
// count once it skips.
func TestOneToOneStatsShowsOverwrittenBeforeRead(t *testing.T) {
	for _, tc := range []struct {
		name     string
		size     int
		readFirs int
	}{
		{"reader never read", 8, 0},
		{"reader read some, unpublished", 128, 3},
		{"reader read a publish interval", 256, 64},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := NewOneToOne[int](tc.size)
			require.NoError(t, err)
			for i := range tc.readFirs {
				d.Set(i)
			}
			for range tc.readFirs {
				_, ok := d.TryNext()
				require.True(t, ok)
			}
			var last uint64
			for i := tc.readFirs; i < 5000; i++ {
				d.Set(i)
				st := d.Stats()
				lost := uint64(max(0, i+1-tc.size-tc.readFirs))
				require.LessOrEqual(t, st.Dropped, lost, "never more than lost (write %d)", i)
				require.Equal(t, lost, st.Dropped, "exact (write %d)", i)
				require.GreaterOrEqual(t, st.Dropped, last, "only grows")
				last = st.Dropped
			}
			got := drain[int](d)
			st := d.Stats()
			assert.Equal(t, uint64(len(got)+tc.readFirs), st.Read)
			assert.Equal(t, uint64(5000), st.Read+st.Dropped)
			assert.GreaterOrEqual(t, st.Dropped, last)
		})
	}
}
