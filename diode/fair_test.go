package diode

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// item is a test element: its source and its number within the source.
type item struct {
	src string
	seq int
}

func itemKey(v item) string { return v.src }

// tallySpy records what a Fair buffer reports to its Tally.
type tallySpy struct {
	mu      sync.Mutex
	written map[string]uint64
	dropped map[string]uint64
	last    []string // keys dropped, in order
}

func newTallySpy() *tallySpy {
	return &tallySpy{written: map[string]uint64{}, dropped: map[string]uint64{}}
}

func (t *tallySpy) Count(key string, written, dropped uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.written[key] += written
	t.dropped[key] += dropped
	for range dropped {
		t.last = append(t.last, key)
	}
}

func TestNewFairRefuses(t *testing.T) {
	_, err := NewFair[int](0, func(int) string { return "" })
	assert.ErrorIs(t, err, ErrInvalidSize)
	_, err = NewFair[int](4, nil)
	assert.ErrorIs(t, err, ErrNilKey)
}

// TestFairDropsFromHeaviest fills the buffer with a heavy source and a
// light one and checks that writes of either drop the heavy source's
// oldest element.
func TestFairDropsFromHeaviest(t *testing.T) {
	var missed []int
	spy := newTallySpy()
	f, err := NewFair(4, itemKey, WithAlert(func(n int) { missed = append(missed, n) }), WithTally(spy))
	require.NoError(t, err)
	f.Set(item{"heavy", 0})
	f.Set(item{"heavy", 1})
	f.Set(item{"heavy", 2})
	f.Set(item{"light", 0})
	assert.Equal(t, Stats{Written: 4}, f.Stats())

	f.Set(item{"light", 1}) // full: heavy (3) loses heavy/0
	f.Set(item{"heavy", 3}) // full: heavy (2) ties light (2); the writer's own source loses heavy/1
	f.Set(item{"other", 0}) // full: heavy or light (2 each) loses its oldest
	assert.Equal(t, Stats{Written: 7, Dropped: 3}, f.Stats(), "drops are counted when they happen")
	assert.Equal(t, []string{"heavy", "heavy"}, spy.last[:2])
	assert.Equal(t, 4, f.Len())

	var got []item
	for {
		v, ok := f.TryNext()
		if !ok {
			break
		}
		got = append(got, v)
	}
	assert.Equal(t, []int{3}, missed, "the next read reports the drops")
	assert.Len(t, got, 4)
	assert.Contains(t, got, item{"other", 0})
	assert.Contains(t, got, item{"heavy", 3})
	assert.Equal(t, Stats{Written: 7, Read: 4, Dropped: 3}, f.Stats())
	assert.Equal(t, map[string]uint64{"heavy": 4, "light": 2, "other": 1}, spy.written)
	assert.Equal(t, uint64(3), spy.dropped["heavy"]+spy.dropped["light"])
}

// TestFairSetHashed: a writer that has read and hashed the key with the
// buffer's Seed fills the same share as one that lets the buffer do it.
func TestFairSetHashed(t *testing.T) {
	f, err := NewFair(4, itemKey)
	require.NoError(t, err)
	f.Set(item{"a", 0})
	f.SetKeyed(item{"a", 1}, "a")
	f.SetHashed(item{"a", 2}, "a", f.Seed().Hash("a"))
	f.SetHashed(item{"b", 0}, "b", f.Seed().Hash("b"))
	f.SetHashed(item{"b", 1}, "b", f.Seed().Hash("b")) // full: a, the heaviest, loses a/0
	var got []item
	for v, ok := f.TryNext(); ok; v, ok = f.TryNext() {
		got = append(got, v)
	}
	assert.Equal(t, []item{{"a", 1}, {"b", 0}, {"a", 2}, {"b", 1}}, got, "two sources, served in turn")
}

// TestFairRoundRobin checks that the reader takes one element of each
// source in turn, oldest first, a new source joining at the end of the
// round.
func TestFairRoundRobin(t *testing.T) {
	f, err := NewFair(16, itemKey)
	require.NoError(t, err)
	for i := range 3 {
		f.Set(item{"a", i})
	}
	f.Set(item{"b", 0})
	f.Set(item{"b", 1})
	f.Set(item{"c", 0})
	var got []string
	for i := 0; ; i++ {
		v, ok := f.TryNext()
		if !ok {
			break
		}
		got = append(got, v.src+strconv.Itoa(v.seq))
		if i == 1 {
			f.Set(item{"d", 0}) // joins at the end of the round that starts at c
		}
	}
	assert.Equal(t, []string{"a0", "b0", "c0", "a1", "b1", "d0", "a2"}, got)
}

func TestFairSizeOne(t *testing.T) {
	f, err := NewFair(1, itemKey)
	require.NoError(t, err)
	f.Set(item{"a", 0})
	f.Set(item{"a", 1})
	f.Set(item{"b", 0})
	v, ok := f.TryNext()
	require.True(t, ok)
	assert.Equal(t, item{"b", 0}, v)
	assert.Equal(t, Stats{Written: 3, Read: 1, Dropped: 2}, f.Stats())
}

// TestFairInvariants drives a Fair buffer with random writes from sources
// of random weights and random reads, and checks against a shadow count
// per source that every drop hits a heaviest source, that each source's
// elements come out in order, and that the counts add up.
func TestFairInvariants(t *testing.T) {
	for _, size := range []int{1, 2, 7, 64} {
		t.Run(fmt.Sprintf("size%d", size), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, uint64(size)))
			spy := newTallySpy()
			f, err := NewFair(size, itemKey, WithTally(spy))
			require.NoError(t, err)
			held := map[string]int{}
			next := map[string]int{}    // next seq to write
			lastOut := map[string]int{} // last seq read, +1
			var read, dropped int
			for op := range 20_000 {
				if rng.IntN(3) == 0 {
					v, ok := f.TryNext()
					if !ok {
						require.Zero(t, total(held), "op %d", op)
						continue
					}
					require.Greater(t, v.seq+1, lastOut[v.src], "op %d: %v out of order", op, v)
					lastOut[v.src] = v.seq + 1
					held[v.src]--
					read++
					continue
				}
				// Source i writes with weight 1/(i+1): a few heavy, many light.
				src := "s" + strconv.Itoa(int(float64(40)*rng.Float64()*rng.Float64()))
				heaviest := 0
				for _, n := range held {
					heaviest = max(heaviest, n)
				}
				before := len(spy.last)
				f.Set(item{src, next[src]})
				next[src]++
				held[src]++
				if len(spy.last) > before {
					d := spy.last[len(spy.last)-1]
					require.Equal(t, heaviest, held[d]-boolInt(d == src), "op %d: dropped from %s, not a heaviest source", op, d)
					held[d]--
					dropped++
				} else {
					require.LessOrEqual(t, total(held), size)
				}
				require.Equal(t, total(held), f.Len())
			}
			s := f.Stats()
			assert.Equal(t, uint64(read), s.Read)
			assert.Equal(t, uint64(dropped), s.Dropped)
			assert.Equal(t, s.Written, s.Read+s.Dropped+uint64(f.Len()))
		})
	}
}

func total(m map[string]int) (n int) {
	for _, v := range m {
		n += v
	}
	return n
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestFairnessUnderFlood is the noisy-neighbour case at the scale of one
// buffer: a reader that takes 100 elements per tick, one source writing
// 1,000 per tick (ten times what the reader takes) and 99 steady sources
// writing 30 per tick between them. The steady sources must lose under
// 0.1% with the Fair buffer (they lose nothing); with a ManyToOne ring of
// the same size they lose most of theirs.
func TestFairnessUnderFlood(t *testing.T) {
	const (
		size    = 1000
		ticks   = 300
		reads   = 100 // per tick: the reader's capacity
		noisy   = 1000
		steady  = 99
		perTick = 30 // steady writes per tick, over all steady sources
	)
	run := func(b Buffer[item]) (steadySent, steadyLost, noisySent, noisyRead int) {
		steadyRead := 0
		next := 0
		for range ticks {
			// Interleave: per tick 1,000 noisy writes, 30 steady writes,
			// 100 reads, spread evenly.
			for i := range noisy {
				b.Set(item{"noisy", i})
				noisySent++
				if i%(noisy/perTick) == 0 && i/(noisy/perTick) < perTick {
					b.Set(item{"steady" + strconv.Itoa(next%steady), next})
					next++
					steadySent++
				}
				if i%(noisy/reads) == 0 {
					if v, ok := b.TryNext(); ok {
						if v.src == "noisy" {
							noisyRead++
						} else {
							steadyRead++
						}
					}
				}
			}
		}
		for { // the reader keeps going after the flood ends
			v, ok := b.TryNext()
			if !ok {
				break
			}
			if v.src == "noisy" {
				noisyRead++
			} else {
				steadyRead++
			}
		}
		s := b.Stats()
		require.Equal(t, s.Written, s.Read+s.Dropped, "%+v", s)
		return steadySent, steadySent - steadyRead, noisySent, noisyRead
	}

	f, err := NewFair(size, itemKey)
	require.NoError(t, err)
	sent, lost, nSent, nRead := run(f)
	t.Logf("fair: steady lost %d of %d (%.3f%%), noisy read %d of %d", lost, sent, 100*float64(lost)/float64(sent), nRead, nSent)
	assert.Equal(t, ticks*perTick, sent)
	assert.Less(t, float64(lost), 0.001*float64(sent), "steady loss with the fair buffer")
	assert.Zero(t, lost, "a steady source never holds the most, so never loses")
	assert.Less(t, nRead, nSent/5, "the noisy source is cut back")

	m, err := NewManyToOne[item](size)
	require.NoError(t, err)
	sent, lost, _, _ = run(m)
	t.Logf("ring: steady lost %d of %d (%.1f%%)", lost, sent, 100*float64(lost)/float64(sent))
	assert.Greater(t, float64(lost), 0.5*float64(sent), "the ring drops steady sources with the noisy one")
}

// TestFairConcurrentFairness runs the flood with real goroutines: a noisy
// writer as fast as it can go and steady writers that each keep one element
// in flight (they write the next once the reader has had the last). No
// steady element may be lost: a steady source never holds the most.
func TestFairConcurrentFairness(t *testing.T) {
	f, err := NewFair(256, itemKey)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	const steadyWriters, each = 4, 2000
	acks := make([]chan struct{}, steadyWriters)
	for i := range acks {
		acks[i] = make(chan struct{}, 1)
	}
	var rwg sync.WaitGroup
	rwg.Add(1)
	steadyRead := 0 // reader goroutine, then read after rwg.Wait
	go func() {
		defer rwg.Done()
		for {
			v, err := f.Next(ctx)
			if err != nil {
				return
			}
			if v.src != "noisy" {
				steadyRead++
				w, _ := strconv.Atoi(v.src[len("steady"):])
				acks[w] <- struct{}{}
			}
		}
	}()
	stop := make(chan struct{})
	var nwg sync.WaitGroup
	nwg.Add(1)
	go func() {
		defer nwg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			f.Set(item{"noisy", i})
		}
	}()
	var swg sync.WaitGroup
	for w := range steadyWriters {
		swg.Add(1)
		go func() {
			defer swg.Done()
			for i := range each {
				f.Set(item{"steady" + strconv.Itoa(w), i})
				select {
				case <-acks[w]:
				case <-time.After(10 * time.Second):
					t.Errorf("steady%d/%d was lost", w, i)
					return
				}
			}
		}()
	}
	swg.Wait()
	close(stop)
	nwg.Wait()
	require.Eventually(t, func() bool { return f.Len() == 0 }, 10*time.Second, time.Millisecond)
	cancel()
	rwg.Wait()
	s := f.Stats()
	assert.Equal(t, s.Written, s.Read+s.Dropped)
	assert.Equal(t, steadyWriters*each, steadyRead)
}
