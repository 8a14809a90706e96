package diode

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// poolKinds builds each buffer kind that takes WithBytePool (and the
// rings again with a reserve, WithPoolReserve, of an eighth of max): size elements,
// its own bound of max bytes, bytes from pool, alerts added to *alerted.
func poolKinds() map[string]func(size int, max int64, pool *BytePool, alerted *atomic.Int64) (Buffer[[]byte], func(), error) {
	opts := func(max int64, pool *BytePool, a *atomic.Int64) []Option {
		return []Option{WithMaxBytes(max, Len), WithBytePool(pool, Len), WithAlert(func(n int) { a.Add(int64(n)) })}
	}
	reserved := func(max int64, pool *BytePool, a *atomic.Int64) []Option {
		return append(opts(max, pool, a), WithPoolReserve(max/8))
	}
	return map[string]func(int, int64, *BytePool, *atomic.Int64) (Buffer[[]byte], func(), error){
		"OneToOne": func(size int, max int64, p *BytePool, a *atomic.Int64) (Buffer[[]byte], func(), error) {
			d, err := NewOneToOne[[]byte](size, opts(max, p, a)...)
			if err != nil {
				return nil, nil, err
			}
			return d, d.Release, nil
		},
		"ManyToOne": func(size int, max int64, p *BytePool, a *atomic.Int64) (Buffer[[]byte], func(), error) {
			d, err := NewManyToOne[[]byte](size, opts(max, p, a)...)
			if err != nil {
				return nil, nil, err
			}
			return d, d.Release, nil
		},
		"Channel": func(size int, max int64, p *BytePool, a *atomic.Int64) (Buffer[[]byte], func(), error) {
			d, err := NewChannel[[]byte](size, opts(max, p, a)...)
			if err != nil {
				return nil, nil, err
			}
			return d, d.Release, nil
		},
		"OneToOneReserve": func(size int, max int64, p *BytePool, a *atomic.Int64) (Buffer[[]byte], func(), error) {
			d, err := NewOneToOne[[]byte](size, reserved(max, p, a)...)
			if err != nil {
				return nil, nil, err
			}
			return d, d.Release, nil
		},
		"ManyToOneReserve": func(size int, max int64, p *BytePool, a *atomic.Int64) (Buffer[[]byte], func(), error) {
			d, err := NewManyToOne[[]byte](size, reserved(max, p, a)...)
			if err != nil {
				return nil, nil, err
			}
			return d, d.Release, nil
		},
	}
}

func TestBytePoolExact(t *testing.T) {
	for name, mk := range poolKinds() {
		if strings.HasSuffix(name, "Reserve") {
			continue // TestBytePoolReserve
		}
		t.Run(name, func(t *testing.T) {
			pool, err := NewBytePool(1000)
			require.NoError(t, err)
			var alertA, alertB atomic.Int64
			a, _, err := mk(100, 800, pool, &alertA)
			require.NoError(t, err)
			b, _, err := mk(100, 800, pool, &alertB)
			require.NoError(t, err)
			for range 9 {
				a.Set(make([]byte, 100)) // 8 fit a's own 800, the 9th is refused
			}
			assert.Equal(t, int64(800), pool.Held())
			for range 3 {
				b.Set(make([]byte, 100)) // the pool has room for 2
			}
			assert.Equal(t, int64(1000), pool.Held())
			assert.Equal(t, uint64(200), b.Stats().Bytes)

			n, total := drainAll(a)
			assert.Equal(t, 8, n)
			assert.Equal(t, 800, total)
			assert.Equal(t, int64(200), pool.Held())
			for range 3 {
				b.Set(make([]byte, 100)) // room again
			}
			assert.Equal(t, int64(500), pool.Held())
			n, _ = drainAll(b)
			assert.Equal(t, 5, n)
			assert.Equal(t, int64(0), pool.Held())

			assert.Equal(t, Stats{Written: 9, Read: 8, Dropped: 1}, a.Stats())
			assert.Equal(t, Stats{Written: 6, Read: 5, Dropped: 1}, b.Stats())
			assert.Equal(t, int64(1), alertA.Load())
			assert.Equal(t, int64(1), alertB.Load())
		})
	}
}

// TestBytePoolAlone bounds a buffer by a pool only: its own bound is the
// pool's.
func TestBytePoolAlone(t *testing.T) {
	pool, err := NewBytePool(250)
	require.NoError(t, err)
	d, err := NewOneToOne[[]byte](10, WithBytePool(pool, Len))
	require.NoError(t, err)
	for range 3 {
		d.Set(make([]byte, 100))
	}
	assert.Equal(t, Stats{Written: 3, Dropped: 1, Bytes: 200}, d.Stats())
	assert.Equal(t, int64(200), pool.Held())
	drainAll(d)
	assert.Equal(t, int64(0), pool.Held())
}

// TestBytePoolLapped follows a ring lapped by its writer: the bytes of an
// element it overwrites go back at once, and so do those of the elements
// the reader jumps over that are still in their slots (as with WithMaxBytes
// alone): a drained ring holds nothing of the pool.
func TestBytePoolLapped(t *testing.T) {
	pool, err := NewBytePool(1 << 20)
	require.NoError(t, err)
	d, err := NewOneToOne[[]byte](4, WithMaxBytes(1<<20, Len), WithBytePool(pool, Len))
	require.NoError(t, err)
	for range 10 {
		d.Set(make([]byte, 10))
	}
	assert.Equal(t, int64(40), pool.Held())
	n, _ := drainAll(d)
	assert.Equal(t, 2, n)
	assert.Equal(t, int64(0), pool.Held()) // the skipped slots gave theirs back at the jump
	assert.Equal(t, Stats{Written: 10, Read: 2, Dropped: 8}, d.Stats())
	for range 4 {
		d.Set(make([]byte, 10))
	}
	n, _ = drainAll(d)
	assert.Equal(t, 4, n)
	assert.Equal(t, int64(0), pool.Held())
	assert.Equal(t, Stats{Written: 14, Read: 6, Dropped: 8}, d.Stats())
	d.Set(make([]byte, 10))
	d.Release()
	assert.Equal(t, int64(0), pool.Held())
}

// TestBytePoolReserve gives each buffer 200 bytes of its own: a full pool
// takes nothing from what a buffer may hold within its reserve.
func TestBytePoolReserve(t *testing.T) {
	pool, err := NewBytePool(100)
	require.NoError(t, err)
	mk := func() *ManyToOne[[]byte] {
		d, err := NewManyToOne[[]byte](100, WithMaxBytes(1000, Len), WithBytePool(pool, Len), WithPoolReserve(200))
		require.NoError(t, err)
		return d
	}
	a, b := mk(), mk()
	for range 4 {
		a.Set(make([]byte, 100)) // 200 own, 100 from the pool, the 4th refused
	}
	assert.Equal(t, int64(100), pool.Held())
	for range 3 {
		b.Set(make([]byte, 100)) // 200 own, the pool is full
	}
	assert.Equal(t, Stats{Written: 4, Dropped: 1, Bytes: 300}, a.Stats())
	assert.Equal(t, Stats{Written: 3, Dropped: 1, Bytes: 200}, b.Stats())
	_, ok := a.TryNext()
	require.True(t, ok)
	assert.Equal(t, int64(0), pool.Held()) // a is back within its reserve
	b.Set(make([]byte, 50))
	assert.Equal(t, int64(50), pool.Held())
	b.Release()
	assert.Equal(t, int64(0), pool.Held())
	drainAll(a)
	assert.Equal(t, int64(0), pool.Held())
	assert.Equal(t, uint64(0), a.Stats().Bytes)

	_, err = NewOneToOne[[]byte](10, WithBytePool(pool, Len), WithPoolReserve(-1))
	require.ErrorIs(t, err, ErrInvalidConfig)
}

func TestBytePoolRelease(t *testing.T) {
	for name, mk := range poolKinds() {
		if strings.HasSuffix(name, "Reserve") {
			continue // TestBytePoolReserve
		}
		t.Run(name, func(t *testing.T) {
			pool, err := NewBytePool(1000)
			require.NoError(t, err)
			var alerted atomic.Int64
			d, release, err := mk(10, 1000, pool, &alerted)
			require.NoError(t, err)
			for range 3 {
				d.Set(make([]byte, 100))
			}
			assert.Equal(t, int64(300), pool.Held())
			release()
			release() // twice: nothing more
			assert.Equal(t, int64(0), pool.Held())
			assert.Equal(t, uint64(0), d.Stats().Bytes)
			d.Set(make([]byte, 100)) // refused
			assert.Equal(t, int64(0), pool.Held())
			n, _ := drainAll(d) // reading gives nothing back twice
			assert.Equal(t, 3, n)
			assert.Equal(t, int64(0), pool.Held())
			assert.Equal(t, Stats{Written: 4, Read: 3, Dropped: 1}, d.Stats())
			assert.Equal(t, int64(1), alerted.Load())
		})
	}
}

// TestBytePoolConcurrent runs writers and readers on several buffers of
// each kind sharing one pool: the pool never goes over its bound for long,
// and once everything is released it holds nothing. (A drained ring may
// still count the bytes of slots its reader jumped over after a lap, see
// TestBytePoolLapped; the buffers here are bounded by bytes, 2048 bytes
// being fewer than 64 elements of 1-97 bytes on average, but may still lap.)
func TestBytePoolConcurrent(t *testing.T) {
	const (
		buffers = 10
		writes  = 20_000
	)
	pool, err := NewBytePool(4096)
	require.NoError(t, err)
	kinds := poolKinds()
	var (
		bufs     []Buffer[[]byte]
		releases []func()
		alerted  [buffers]atomic.Int64
	)
	names := []string{"OneToOne", "ManyToOne", "Channel", "OneToOneReserve", "ManyToOneReserve"}
	for i := range buffers {
		d, rel, err := kinds[names[i%len(names)]](64, 2048, pool, &alerted[i])
		require.NoError(t, err)
		bufs, releases = append(bufs, d), append(releases, rel)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var readers, writers sync.WaitGroup
	var read [buffers]atomic.Uint64
	for i, d := range bufs {
		readers.Add(1)
		go func() {
			defer readers.Done()
			for {
				if _, err := d.Next(ctx); err != nil {
					return
				}
				read[i].Add(1)
			}
		}()
		writers.Add(1)
		go func() {
			defer writers.Done()
			for j := range writes {
				d.Set(make([]byte, 1+j%97))
				if held := pool.held.Load(); held > pool.max+2*97*buffers {
					t.Errorf("pool holds %d bytes", held)
					return
				}
			}
		}()
	}
	writers.Wait()
	cancel()
	readers.Wait()
	// Half the buffers are drained, then all released.
	for i, d := range bufs {
		if i%2 == 0 {
			n, _ := drainAll(d)
			read[i].Add(uint64(n))
		}
		releases[i]()
	}
	assert.Equal(t, int64(0), pool.Held())
	for i, d := range bufs {
		st := d.Stats()
		assert.Equal(t, uint64(writes), st.Written, i)
		if i%2 == 0 {
			assert.Equal(t, st.Written, read[i].Load()+st.Dropped, i)
			assert.Equal(t, int64(st.Dropped), alerted[i].Load(), i)
		}
	}
	assert.Equal(t, int64(0), pool.Held())
}

func TestBytePoolConfig(t *testing.T) {
	_, err := NewBytePool(0)
	require.ErrorIs(t, err, ErrInvalidConfig)
	pool, err := NewBytePool(10)
	require.NoError(t, err)
	assert.Equal(t, int64(10), pool.Max())

	_, err = NewOneToOne[[]byte](10, WithBytePool[[]byte](nil, Len))
	require.ErrorIs(t, err, ErrInvalidConfig)
	_, err = NewManyToOne[[]byte](10, WithBytePool[[]byte](pool, nil))
	require.ErrorIs(t, err, ErrInvalidConfig)
	_, err = NewChannel[[]byte](10, WithBytePool(pool, func(string) int { return 0 }))
	require.ErrorIs(t, err, ErrInvalidConfig)
	_, err = NewFair(10, func(b []byte) string { return "" }, WithBytePool(pool, Len))
	require.ErrorIs(t, err, ErrInvalidConfig)
}
