package diode

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

// fairModel is the Fair policy written as plainly as possible, with exact
// counts: a queue per source, the reader's round as a slice, and every
// drop checked against the rule (the oldest element of a source that
// holds the most; the writer's own when it is one of them). Among several
// heaviest other sources the buffer may pick any: the model takes the one
// the buffer reported (to its Tally), after checking that it may.
type fairModel struct {
	t        *testing.T
	size     int
	maxBytes int64 // 0: no bound in bytes
	sizeOf   func(item) int64
	queues   map[string][]item
	round    []string // sources that hold elements, in the reader's order
	cur      int      // index in round of the source served next
	held     int
	bytes    int64
	written  uint64
	read     uint64
	dropped  uint64
}

func newFairModel(t *testing.T, size int, maxBytes int64, sizeOf func(item) int64) *fairModel {
	return &fairModel{t: t, size: size, maxBytes: maxBytes, sizeOf: sizeOf, queues: map[string][]item{}}
}

// write applies one write of v; drops lists the keys the buffer reported
// dropping, of which write takes those this write made, and returns the
// rest.
func (m *fairModel) write(v item, drops []string) []string {
	m.t.Helper()
	m.written++
	var sz int64
	if m.maxBytes > 0 {
		sz = m.sizeOf(v)
		if sz > m.maxBytes {
			require.Equal(m.t, v.src, drops[0], "%v alone is over the bound: refused", v)
			m.dropped++
			return drops[1:]
		}
		for m.held > 0 && m.bytes+sz > m.maxBytes {
			drops = m.drop(v.src, drops)
		}
	}
	if m.held == m.size {
		drops = m.drop(v.src, drops)
	}
	if len(m.queues[v.src]) == 0 {
		m.round = slices.Insert(m.round, m.cur, v.src) // served after all that wait
		m.cur++
		if m.cur == len(m.round) {
			m.cur = 0
		}
	}
	m.queues[v.src] = append(m.queues[v.src], v)
	m.held++
	m.bytes += sz
	return drops
}

// drop checks the buffer's next reported drop against the rule for a
// write of source w, and applies it.
func (m *fairModel) drop(w string, drops []string) []string {
	m.t.Helper()
	require.NotEmpty(m.t, drops, "the buffer must drop for a write of %s", w)
	d := drops[0]
	most := 0
	for _, q := range m.queues {
		most = max(most, len(q))
	}
	if len(m.queues[w]) == most {
		require.Equal(m.t, w, d, "the writer's source is one of the heaviest (%d): it loses its own", most)
	} else {
		require.Equal(m.t, most, len(m.queues[d]), "dropped from %s, which holds %d, not the most (%d)", d, len(m.queues[d]), most)
	}
	m.take(d)
	m.dropped++
	return drops[1:]
}

// take removes the oldest element of source k.
func (m *fairModel) take(k string) item {
	q := m.queues[k]
	v := q[0]
	m.queues[k] = q[1:]
	m.held--
	if m.maxBytes > 0 {
		m.bytes -= m.sizeOf(v)
	}
	if len(q) == 1 {
		delete(m.queues, k)
		j := slices.Index(m.round, k)
		m.round = slices.Delete(m.round, j, j+1)
		if j < m.cur {
			m.cur--
		}
		if m.cur == len(m.round) {
			m.cur = 0
		}
	}
	return v
}

// next is what the reader gets next, if anything.
func (m *fairModel) next() (item, bool) {
	if m.held == 0 {
		return item{}, false
	}
	k := m.round[m.cur]
	if len(m.queues[k]) > 1 {
		m.cur = (m.cur + 1) % len(m.round)
	}
	m.read++
	return m.take(k), true // take moves cur on when k leaves the round
}

// TestFairMatchesModel drives a Fair buffer and the model with the same
// random writes (single and in batches with runs of one source, from
// sources of very unequal weight) and reads (single and in bursts), in
// phases that overfill the buffer and drain it below half again, so that
// the buffer enters and leaves the mode in which it keeps exact counts
// many times: every element read, every drop, Stats and Len must match
// the model after every call.
func TestFairMatchesModel(t *testing.T) {
	sizeOf := func(v item) int64 { return int64(1 + v.seq%9) }
	for _, c := range []struct {
		size     int
		maxBytes int64
		sources  int
	}{
		{1, 0, 3}, {2, 0, 5}, {7, 0, 4}, {7, 0, 40}, {64, 0, 12}, {64, 0, 300},
		{8, 30, 5}, {64, 120, 20}, {64, 500, 300},
	} {
		t.Run(fmt.Sprintf("size%d_bytes%d_sources%d", c.size, c.maxBytes, c.sources), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(c.size)<<32|uint64(c.maxBytes), uint64(c.sources)))
			spy := newTallySpy()
			opts := []Option{WithTally(spy)}
			if c.maxBytes > 0 {
				opts = append(opts, WithMaxBytes(c.maxBytes, func(v item) int { return int(sizeOf(v)) }))
			}
			f, err := NewFair(c.size, itemKey, opts...)
			require.NoError(t, err)
			m := newFairModel(t, c.size, c.maxBytes, sizeOf)
			seq := 0
			src := func() string {
				// Source i writes with weight about 1/(i+1).
				return fmt.Sprint("s", int(float64(c.sources)*rng.Float64()*rng.Float64()))
			}
			var enters, leaves int
			wasExact := false
			check := func(op int) {
				st := f.Stats()
				require.Equal(t, Stats{Written: m.written, Read: m.read, Dropped: m.dropped, Bytes: st.Bytes}, st, "op %d", op)
				require.Equal(t, m.held, f.Len(), "op %d", op)
				if c.maxBytes > 0 {
					require.Equal(t, uint64(m.bytes), st.Bytes, "op %d", op)
				}
				if f.exact != wasExact {
					enters += boolInt(f.exact)
					leaves += boolInt(!f.exact)
					wasExact = f.exact
				}
			}
			var dst []item
			for op := range 2400 {
				// Phases of 100 operations: write-heavy (overfill), then
				// read-heavy (drain).
				writeOdds := 3
				if op/100%2 == 1 {
					writeOdds = 1
				}
				before := len(spy.last)
				switch r := rng.IntN(writeOdds + 2); {
				case r < writeOdds:
					// A batch (SetBatch) or single writes (Set, SetKeyed).
					n := 1 + rng.IntN(c.size+c.size/2)
					vs, keys := make([]item, n), make([]string, n)
					for i := range vs {
						k := src()
						if i > 0 && rng.IntN(3) == 0 {
							k = keys[i-1] // a run of one source
						}
						seq++
						vs[i], keys[i] = item{k, seq}, k
					}
					switch rng.IntN(3) {
					case 0:
						f.SetBatch(vs, keys)
					case 1:
						for _, v := range vs {
							f.Set(v)
						}
					default:
						for i, v := range vs {
							f.SetKeyed(v, keys[i])
						}
					}
					drops := spy.last[before:]
					for _, v := range vs {
						drops = m.write(v, drops)
					}
					require.Empty(t, drops, "op %d: the buffer dropped more than the model", op)
				case r == writeOdds:
					v, ok := f.TryNext()
					want, wantOK := m.next()
					require.Equal(t, wantOK, ok, "op %d", op)
					require.Equal(t, want, v, "op %d", op)
				default:
					n := rng.IntN(c.size + 2)
					dst = f.TryNextN(dst[:0], n)
					for i := range min(n, len(dst)+1) {
						want, ok := m.next()
						if !ok {
							require.Len(t, dst, i, "op %d", op)
							break
						}
						require.Less(t, i, len(dst), "op %d: fewer than the model holds", op)
						require.Equal(t, want, dst[i], "op %d", op)
					}
				}
				check(op)
			}
			for {
				v, ok := f.TryNext()
				want, wantOK := m.next()
				require.Equal(t, wantOK, ok)
				require.Equal(t, want, v)
				if !ok {
					break
				}
			}
			check(-1)
			st := f.Stats()
			require.Equal(t, st.Written, st.Read+st.Dropped)
			require.NotZero(t, st.Dropped)
			t.Logf("%d drops; exact counts kept %d times, left %d times", st.Dropped, enters, leaves)
			require.Greater(t, enters, 5, "the test must make the buffer keep exact counts again and again")
			require.Greater(t, leaves, 5, "and stop keeping them")
		})
	}
}

// TestFairKeepsCountsUnderPressureOnly: the buffer starts keeping exact
// counts at its first drop and stops once it is back to half full and the
// reader has taken as many elements as the rebuild cost, so that a buffer
// that overflowed once is cheap again afterwards.
func TestFairKeepsCountsUnderPressureOnly(t *testing.T) {
	f, err := NewFair(10, itemKey)
	require.NoError(t, err)
	for i := range 10 {
		f.Set(item{fmt.Sprint("s", i%2), i})
	}
	require.False(t, f.exact, "full, but nothing dropped yet")
	f.Set(item{"s0", 10}) // drops s0/0
	require.True(t, f.exact)
	require.Equal(t, int32(5), f.maxCount)
	for range 4 {
		_, ok := f.TryNext()
		require.True(t, ok)
		require.True(t, f.exact, "more than half full")
	}
	_, ok := f.TryNext()
	require.True(t, ok)
	require.Equal(t, 5, f.Len())
	require.False(t, f.exact, "half full, after more reads than the rebuild cost")

	// Filling it again rebuilds the counts at the next drop, from what is
	// held (not from what the buckets held when it stopped).
	for i := range 5 {
		f.Set(item{"s2", i})
	}
	require.False(t, f.exact)
	f.Set(item{"s0", 11}) // s2 holds the most (5): it loses s2/0
	require.True(t, f.exact)
	require.Equal(t, int32(4), f.maxCount)
	require.Equal(t, Stats{Written: 17, Read: 5, Dropped: 2}, f.Stats())
}
