package diode

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type kind struct {
	name    string
	writers int // how many writer goroutines the kind allows
	new     func(size int, opts ...Option) (Buffer[uint64], error)
}

var kinds = []kind{
	{"OneToOne", 1, func(size int, opts ...Option) (Buffer[uint64], error) { return NewOneToOne[uint64](size, opts...) }},
	{"ManyToOne", 4, func(size int, opts ...Option) (Buffer[uint64], error) { return NewManyToOne[uint64](size, opts...) }},
	{"Channel", 4, func(size int, opts ...Option) (Buffer[uint64], error) { return NewChannel[uint64](size, opts...) }},
	{"Fair", 4, func(size int, opts ...Option) (Buffer[uint64], error) { return NewFair(size, writerKey, opts...) }},
}

// writerKey is the Fair buffer's key for the tests' values: the writer ID
// in the upper 32 bits.
func writerKey(v uint64) string { return writerKeys[(v>>32)%uint64(len(writerKeys))] }

var writerKeys = []string{"w0", "w1", "w2", "w3", "w4", "w5", "w6", "w7"}

// TestConcurrentAccounting runs several writers against one reader that
// stalls now and then, and checks after the drain that every write was
// either read or counted as dropped, exactly.
func TestConcurrentAccounting(t *testing.T) {
	const perWriter = 100_000
	for _, tc := range []struct {
		k    kind
		size int
	}{{kinds[0], 1}, {kinds[0], 64}, {kinds[1], 1}, {kinds[1], 64}, {kinds[2], 1}, {kinds[2], 64}, {kinds[3], 1}, {kinds[3], 64}} {
		k := tc.k
		t.Run(fmt.Sprintf("%s/size%d", k.name, tc.size), func(t *testing.T) {
			var alerted uint64 // reader goroutine only, then read after wg.Wait
			b, err := k.new(tc.size, WithAlert(func(n int) { alerted += uint64(n) }))
			require.NoError(t, err)

			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()

			last := make([]uint64, k.writers) // last value seen per writer, +1
			var outOfOrder int
			check := func(v uint64) {
				id, i := v>>32, v&(1<<32-1)
				if i+1 <= last[id] {
					outOfOrder++
				}
				last[id] = i + 1
			}

			var rwg sync.WaitGroup
			rwg.Add(1)
			go func() {
				defer rwg.Done()
				for n := 0; ; n++ {
					v, err := b.Next(ctx)
					if err != nil {
						return
					}
					check(v)
					if n%20000 == 0 {
						time.Sleep(time.Millisecond) // stall: let the writers lap us
					}
				}
			}()

			// Stats may be called from any goroutine at any time; a
			// snapshot never shows more read or dropped than written.
			var bad, polls int
			pollDone := make(chan struct{})
			go func() {
				defer close(pollDone)
				for ctx.Err() == nil {
					s := b.Stats()
					if s.Read+s.Dropped > s.Written {
						bad++
					}
					polls++
					time.Sleep(50 * time.Microsecond)
				}
			}()

			var wwg sync.WaitGroup
			for id := range k.writers {
				wwg.Add(1)
				go func() {
					defer wwg.Done()
					for i := range uint64(perWriter) {
						b.Set(uint64(id)<<32 | i)
					}
				}()
			}
			wwg.Wait()
			cancel()
			rwg.Wait()
			<-pollDone
			assert.Zero(t, bad, "of %d snapshots", polls)
			for {
				v, ok := b.TryNext()
				if !ok {
					break
				}
				check(v)
			}

			s := b.Stats()
			assert.Equal(t, uint64(k.writers*perWriter), s.Written)
			assert.Equal(t, s.Written, s.Read+s.Dropped, "%+v", s)
			assert.Equal(t, s.Dropped, alerted, "alerts must add up to Dropped")
			assert.Zero(t, outOfOrder, "a writer's values must come out in order")
			t.Logf("%+v", s)
		})
	}
}

func TestNextReturnsPromptlyAfterSet(t *testing.T) {
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			b, err := k.new(8)
			require.NoError(t, err)
			got := make(chan uint64)
			go func() {
				v, err := b.Next(context.Background())
				assert.NoError(t, err)
				got <- v
			}()
			waitAsleep(t, b)
			b.Set(42)
			select {
			case v := <-got:
				assert.Equal(t, uint64(42), v)
			case <-time.After(2 * time.Second):
				t.Fatal("Next did not wake up after Set")
			}
		})
	}
}

func TestNextReturnsContextError(t *testing.T) {
	for _, k := range append(kinds, kind{"Discard", 1, func(int, ...Option) (Buffer[uint64], error) { return Discard[uint64](), nil }}) {
		t.Run(k.name, func(t *testing.T) {
			b, err := k.new(8)
			require.NoError(t, err)

			ctx, cancel := context.WithCancel(context.Background())
			errc := make(chan error)
			go func() {
				_, err := b.Next(ctx)
				errc <- err
			}()
			waitAsleep(t, b)
			cancel()
			select {
			case err := <-errc:
				assert.ErrorIs(t, err, context.Canceled)
			case <-time.After(2 * time.Second):
				t.Fatal("Next did not return after cancel")
			}

			ctx, cancel = context.WithTimeout(context.Background(), 10*time.Millisecond)
			defer cancel()
			_, err = b.Next(ctx)
			assert.ErrorIs(t, err, context.DeadlineExceeded)
		})
	}
}

func TestNextOnDoneContextKeepsData(t *testing.T) {
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			b, err := k.new(8)
			require.NoError(t, err)
			b.Set(7)
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			_, err = b.Next(ctx)
			require.ErrorIs(t, err, context.Canceled)
			v, ok := b.TryNext()
			assert.True(t, ok)
			assert.Equal(t, uint64(7), v)
		})
	}
}

func TestChannelDropsNewest(t *testing.T) {
	var missed []int
	d, err := NewChannel[int](2, WithAlert(func(n int) { missed = append(missed, n) }))
	require.NoError(t, err)
	for i := range 5 {
		d.Set(i)
	}
	v, ok := d.TryNext()
	require.True(t, ok)
	assert.Equal(t, 0, v)
	assert.Equal(t, []int{3}, missed, "drops are reported on the next read")
	v, err = d.Next(context.Background())
	require.NoError(t, err)
	assert.Equal(t, 1, v)
	_, ok = d.TryNext()
	assert.False(t, ok)
	assert.Equal(t, []int{3}, missed)
	assert.Equal(t, Stats{Written: 5, Read: 2, Dropped: 3}, d.Stats())
}

func TestManyToOneCountsNoCollisionsAlone(t *testing.T) {
	d, err := NewManyToOne[int](3)
	require.NoError(t, err)
	for i := range 10 {
		d.Set(i)
	}
	got := drain[int](d)
	assert.Equal(t, []int{9}, got)
	assert.Equal(t, Stats{Written: 10, Read: 1, Dropped: 9}, d.Stats())
}

func TestSlotGivesWayToNewerWrite(t *testing.T) {
	var s slot[int]
	lost, _ := s.put(5, 50, nil)
	require.False(t, lost)
	lost, collided := s.put(1, 10, nil) // a writer a lap behind
	assert.True(t, lost)
	assert.True(t, collided)
	assert.Equal(t, 50, s.val)
}

func TestDiscard(t *testing.T) {
	d := Discard[[]byte]()
	d.Set([]byte("x"))
	d.Set(nil)
	_, ok := d.TryNext()
	assert.False(t, ok)
	assert.Equal(t, Stats{Written: 2, Dropped: 2}, d.Stats())
}

func TestZeroAllocs(t *testing.T) {
	payload := []byte("envelope")
	ctx := context.Background()
	o, _ := NewOneToOne[[]byte](16)
	m, _ := NewManyToOne[[]byte](16)
	c, _ := NewChannel[[]byte](16)
	n := Discard[[]byte]()
	f, _ := NewFair(16, func(b []byte) string { return unsafe.String(&b[0], 3) })
	for name, b := range map[string]Buffer[[]byte]{"OneToOne": o, "ManyToOne": m, "Channel": c, "Discard": n, "Fair": f} {
		allocs := testing.AllocsPerRun(1000, func() {
			b.Set(payload)
			b.TryNext()
			b.Set(payload)
			if name != "Discard" {
				_, _ = b.Next(ctx)
			}
		})
		assert.Zero(t, allocs, name)
	}
}

// TestStatsExactAfterNext checks that Stats counts reads that Next returned
// once the reader has caught up, even when it never found the buffer empty,
// and that it is never far behind before that.
func TestStatsExactAfterNext(t *testing.T) {
	for _, k := range kinds {
		for _, size := range []int{1, 3, 64, 100} {
			t.Run(fmt.Sprintf("%s/size%d", k.name, size), func(t *testing.T) {
				b, err := k.new(size)
				require.NoError(t, err)
				ctx := context.Background()
				reads := 0
				for round := range 50 {
					n := 1 + round%size
					for i := range n {
						b.Set(uint64(i))
					}
					for i := range n {
						_, err := b.Next(ctx)
						require.NoError(t, err)
						reads++
						s := b.Stats()
						if i == n-1 {
							require.Equal(t, uint64(reads), s.Read, "round %d", round)
						} else {
							require.LessOrEqual(t, s.Read, uint64(reads))
							require.Less(t, uint64(reads)-s.Read, uint64(publishEvery))
						}
					}
				}
				s := b.Stats()
				assert.Equal(t, s.Written, s.Read+s.Dropped)
				assert.Zero(t, s.Dropped)
			})
		}
	}
}

// TestWriterWaitsForReaderCopy holds a slot in the reader's "read" state
// and checks that a writer one lap ahead waits for the release, then writes.
func TestWriterWaitsForReaderCopy(t *testing.T) {
	var s slot[int]
	s.word.Store(word(5, stateRead)) // the reader is copying write 5 out
	done := make(chan struct{})
	go func() {
		defer close(done)
		lost, collided := s.put(9, 90, nil)
		assert.False(t, lost)
		assert.False(t, collided, "waiting for the reader is not a collision")
	}()
	select {
	case <-done:
		t.Fatal("writer did not wait for the reader's copy")
	case <-time.After(20 * time.Millisecond):
	}
	s.word.Store(word(5, stateEmpty)) // the reader releases
	<-done
	assert.Equal(t, word(9, stateFull), s.word.Load())
	assert.Equal(t, 90, s.val)
}

func TestWriterGivesWayToLaterWriterInProgress(t *testing.T) {
	var s slot[int]
	s.word.Store(word(9, stateWrite)) // a later writer is copying in
	lost, collided := s.put(5, 50, nil)
	assert.True(t, lost)
	assert.True(t, collided)
	assert.Equal(t, word(9, stateWrite), s.word.Load())
}

// waitAsleep waits until b's reader sleeps in Next, for the kinds whose
// sleep can be seen (the ring buffers); a Channel's reader blocks in a
// select, which cannot be seen, and is tested either way.
func waitAsleep(t *testing.T, b any) {
	t.Helper()
	var w *waiter
	switch b := b.(type) {
	case *OneToOne[uint64]:
		w = &b.w
	case *ManyToOne[uint64]:
		w = &b.w
	default:
		return
	}
	require.Eventually(t, w.sleeping.Load, 20*time.Second, time.Millisecond, "the reader never slept")
}
