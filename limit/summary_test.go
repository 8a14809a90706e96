package limit_test

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sluicelog/sluice/limit"
)

func TestSummaryExactWhenFewSources(t *testing.T) {
	s := limit.NewSummary(4)
	for i := range 4 {
		for range (i + 1) * 10 {
			s.Count("s"+strconv.Itoa(i), 1, 0)
		}
	}
	s.Count("s0", 0, 7)
	snap := s.Snapshot()
	assert.Equal(t, []limit.SourceCount{{"s3", 40, 0}, {"s2", 30, 0}, {"s1", 20, 0}, {"s0", 10, 0}}, snap.Sent)
	assert.Equal(t, []limit.SourceCount{{"s0", 7, 0}}, snap.Dropped)
	assert.Equal(t, uint64(100), snap.TotalSent)
	assert.Equal(t, uint64(7), snap.TotalDropped)
}

// TestSummaryFindsHeavyHitters streams many distinct sources (far more
// than k) with a few heavy ones mixed in, and checks space-saving's
// guarantees: every source above total/k is kept, each count is at least
// the true count and at most count+Err, and the heaviest comes first.
func TestSummaryFindsHeavyHitters(t *testing.T) {
	const k = 16
	s := limit.NewSummary(k)
	rng := rand.New(rand.NewPCG(3, 4))
	truth := map[string]uint64{}
	for range 200_000 {
		var id string
		switch r := rng.IntN(100); {
		case r < 30:
			id = "noisy"
		case r < 40:
			id = "loud"
		case r < 45:
			id = "busy"
		default:
			id = "quiet-" + strconv.Itoa(rng.IntN(5000))
		}
		truth[id]++
		s.Count(id, 1, 0)
	}
	snap := s.Snapshot()
	require.Len(t, snap.Sent, k)
	assert.Equal(t, "noisy", snap.Sent[0].SourceID)
	assert.Equal(t, "loud", snap.Sent[1].SourceID)
	assert.Equal(t, "busy", snap.Sent[2].SourceID)
	var sum uint64
	for _, e := range snap.Sent {
		sum += e.Count
		tr := truth[e.SourceID]
		assert.GreaterOrEqual(t, e.Count, tr, e.SourceID)
		assert.LessOrEqual(t, e.Count-e.Err, tr, e.SourceID)
	}
	assert.Equal(t, snap.TotalSent, sum, "space-saving's counts add up to the stream length")
	for id, n := range truth {
		if n > snap.TotalSent/k {
			assert.Contains(t, fmt.Sprint(snap.Sent), id+" ")
		}
	}
}

func TestSummaryLongIDAndDefaults(t *testing.T) {
	s := limit.NewSummary(0)
	long := fmt.Sprintf("%0100d", 1)
	s.Count(long, 1, 1)
	snap := s.Snapshot()
	assert.Equal(t, long[:64], snap.Sent[0].SourceID)
	s.Drops().Count("x", 5, 0)
	s.Drops().Count("x", 5, 2)
	snap = s.Snapshot()
	assert.Equal(t, uint64(1), snap.TotalSent, "Drops ignores what was written")
	assert.Equal(t, uint64(3), snap.TotalDropped)
}

func TestSummaryZeroAllocs(t *testing.T) {
	s := limit.NewSummary(8)
	ids := make([]string, 100)
	for i := range ids {
		ids[i] = "source-" + strconv.Itoa(i)
	}
	i := 0
	allocs := testing.AllocsPerRun(10_000, func() {
		s.Count(ids[i%len(ids)], 1, uint64(i&1))
		i++
	})
	assert.Zero(t, allocs)
}

func TestMerge(t *testing.T) {
	a := limit.Snapshot{
		Sent:      []limit.SourceCount{{SourceID: "x", Count: 10}, {SourceID: "y", Count: 5, Err: 1}},
		Dropped:   []limit.SourceCount{{SourceID: "x", Count: 4}},
		TotalSent: 15, TotalDropped: 4,
	}
	b := limit.Snapshot{
		Sent:      []limit.SourceCount{{SourceID: "y", Count: 8, Err: 2}, {SourceID: "z", Count: 1}},
		TotalSent: 9,
	}
	got := limit.Merge(2, a, b)
	assert.Equal(t, []limit.SourceCount{{SourceID: "y", Count: 13, Err: 3}, {SourceID: "x", Count: 10}}, got.Sent)
	assert.Equal(t, []limit.SourceCount{{SourceID: "x", Count: 4}}, got.Dropped)
	assert.Equal(t, uint64(24), got.TotalSent)
	assert.Equal(t, uint64(4), got.TotalDropped)
	assert.Len(t, limit.Merge(0, a, b).Sent, 3, "k < 1 keeps all")
	assert.Empty(t, limit.Merge(3).Sent)
}

// The Summary's memory, as its doc states it: 264 bytes per entry and 128
// per pending row, 16.5 + 128 KiB for the default k, all of it allocated
// by NewSummary.
func TestSummaryMemory(t *testing.T) {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	s := limit.NewSummary(limit.DefaultTopK)
	runtime.ReadMemStats(&after)
	got := after.TotalAlloc - before.TotalAlloc
	assert.InDelta(t, 264*limit.DefaultTopK+128*1024, float64(got), 512, "bytes allocated by NewSummary(64)")
	e := env(t, "app")
	assert.Zero(t, testing.AllocsPerRun(100, func() { s.Count(limit.SourceID(e), 1, 1) }))
	runtime.KeepAlive(s)
}
