package diode

import (
	"bytes"
	"context"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// byteKinds builds each buffer kind bounded to size elements and max bytes,
// with an alert that adds to *alerted.
func byteKinds() map[string]func(size int, max int64, alerted *atomic.Int64) (Buffer[[]byte], error) {
	alert := func(a *atomic.Int64) Option { return WithAlert(func(n int) { a.Add(int64(n)) }) }
	return map[string]func(int, int64, *atomic.Int64) (Buffer[[]byte], error){
		"OneToOne": func(size int, max int64, a *atomic.Int64) (Buffer[[]byte], error) {
			return NewOneToOne[[]byte](size, WithMaxBytes(max, Len), alert(a))
		},
		"ManyToOne": func(size int, max int64, a *atomic.Int64) (Buffer[[]byte], error) {
			return NewManyToOne[[]byte](size, WithMaxBytes(max, Len), alert(a))
		},
		"Channel": func(size int, max int64, a *atomic.Int64) (Buffer[[]byte], error) {
			return NewChannel[[]byte](size, WithMaxBytes(max, Len), alert(a))
		},
		"Fair": func(size int, max int64, a *atomic.Int64) (Buffer[[]byte], error) {
			return NewFair(size, func(b []byte) string { return string(b[:1]) }, WithMaxBytes(max, Len), alert(a))
		},
	}
}

func drainAll(b Buffer[[]byte]) (n int, total int) {
	for {
		v, ok := b.TryNext()
		if !ok {
			return n, total
		}
		n++
		total += len(v)
	}
}

// Writes that would take a buffer over its bytes are dropped and counted
// like overflow, and the bytes held are exact.
func TestMaxBytesShedsAndCounts(t *testing.T) {
	for name, mk := range byteKinds() {
		t.Run(name, func(t *testing.T) {
			var alerted atomic.Int64
			b, err := mk(10, 100, &alerted)
			require.NoError(t, err)
			for range 3 {
				b.Set(bytes.Repeat([]byte("a"), 30))
			}
			assert.Equal(t, Stats{Written: 3, Bytes: 90}, b.Stats())
			b.Set(bytes.Repeat([]byte("a"), 30)) // 120 > 100
			b.Set(bytes.Repeat([]byte("a"), 101))
			b.Set(bytes.Repeat([]byte("a"), 10)) // fits
			// The rings and the channel refused the fourth write; Fair made
			// room for it by dropping the oldest. The 101-byte one could
			// never fit. Either way: the same counts.
			assert.Equal(t, Stats{Written: 6, Dropped: 2, Bytes: 100}, b.Stats())
			n, total := drainAll(b)
			assert.Equal(t, 4, n)
			assert.Equal(t, 100, total)
			assert.Equal(t, Stats{Written: 6, Read: 4, Dropped: 2}, b.Stats())
			assert.Equal(t, int64(2), alerted.Load())
			// Room again once read.
			b.Set(bytes.Repeat([]byte("a"), 100))
			assert.Equal(t, Stats{Written: 7, Read: 4, Dropped: 2, Bytes: 100}, b.Stats())
		})
	}
}

// A ring that laps its reader gives back the bytes of what it overwrote.
func TestMaxBytesRingLapReleases(t *testing.T) {
	for _, name := range []string{"OneToOne", "ManyToOne"} {
		t.Run(name, func(t *testing.T) {
			var alerted atomic.Int64
			b, err := byteKinds()[name](2, 1000, &alerted)
			require.NoError(t, err)
			b.Set(make([]byte, 10))
			b.Set(make([]byte, 20))
			b.Set(make([]byte, 40)) // overwrites the first
			assert.Equal(t, uint64(60), b.Stats().Bytes)
			// The reader finds write 2 where it expected 0: it skips 0 and
			// 1 (go-diodes' rule), and discards 1 when it comes to it; its
			// bytes go then.
			n, total := drainAll(b)
			assert.Equal(t, 1, n)
			assert.Equal(t, 40, total)
			assert.Equal(t, Stats{Written: 3, Read: 1, Dropped: 2}, b.Stats())
			assert.Equal(t, int64(2), alerted.Load())
		})
	}
}

// A jump past several slots gives back the bytes of every skipped element
// still in the ring, not only of the one the reader comes to next: after
// the drain nothing is held.
func TestMaxBytesRingJumpReleasesAllSkipped(t *testing.T) {
	for _, name := range []string{"OneToOne", "ManyToOne"} {
		t.Run(name, func(t *testing.T) {
			var alerted atomic.Int64
			b, err := byteKinds()[name](4, 1000, &alerted)
			require.NoError(t, err)
			for i := range 10 {
				b.Set(make([]byte, 10+i)) // slots end holding writes 8, 9, 6, 7
			}
			assert.Equal(t, uint64(16+17+18+19), b.Stats().Bytes)
			n, total := drainAll(b)
			assert.Equal(t, 2, n)
			assert.Equal(t, 18+19, total)
			assert.Equal(t, Stats{Written: 10, Read: 2, Dropped: 8}, b.Stats())
			assert.Equal(t, int64(8), alerted.Load())
			// Refill: the ring takes writes as if it had never lapped.
			b.Set(make([]byte, 5))
			v, ok := b.TryNext()
			require.True(t, ok)
			assert.Len(t, v, 5)
			assert.Zero(t, b.Stats().Bytes)
		})
	}
}

// Fair sheds the heaviest source's oldest elements until a new one fits.
func TestMaxBytesFairShedsHeaviest(t *testing.T) {
	f, err := NewFair(100, func(b []byte) string { return string(b[:1]) }, WithMaxBytes(int64(100), Len))
	require.NoError(t, err)
	f.Set([]byte("a" + string(make([]byte, 29)))) // a: 30
	f.Set([]byte("a" + string(make([]byte, 29)))) // a: 60
	f.Set([]byte("b" + string(make([]byte, 9))))  // b: 10, total 70
	f.Set([]byte("c" + string(make([]byte, 59)))) // needs 60: a's oldest goes
	assert.Equal(t, Stats{Written: 4, Dropped: 1, Bytes: 100}, f.Stats())
	var got []string
	for {
		v, ok := f.TryNext()
		if !ok {
			break
		}
		got = append(got, string(v[:1]))
	}
	assert.Equal(t, []string{"a", "b", "c"}, got)
	assert.Equal(t, Stats{Written: 4, Read: 3, Dropped: 1}, f.Stats())
	// One element larger than the rest together: everyone else goes.
	f.Set([]byte("a" + string(make([]byte, 29))))
	f.Set([]byte("b" + string(make([]byte, 29))))
	f.Set([]byte("c" + string(make([]byte, 89))))
	assert.Equal(t, Stats{Written: 7, Read: 3, Dropped: 3, Bytes: 90}, f.Stats())
}

// Under concurrent writers and a concurrent reader, the bytes held never
// pass the bound and the books close after the drain.
func TestMaxBytesConcurrent(t *testing.T) {
	const (
		writers = 4
		each    = 5000
		max     = 4096
	)
	for name, mk := range byteKinds() {
		if name == "OneToOne" {
			continue // one writer only
		}
		t.Run(name, func(t *testing.T) {
			var alerted atomic.Int64
			b, err := mk(64, max, &alerted)
			require.NoError(t, err)
			ctx, cancel := context.WithCancel(context.Background())
			var (
				wg      sync.WaitGroup
				readN   int
				over    atomic.Bool
				readers sync.WaitGroup
			)
			readers.Add(1)
			go func() {
				defer readers.Done()
				for {
					if _, err := b.Next(ctx); err != nil {
						return
					}
					readN++
					if b.Stats().Bytes > max {
						over.Store(true)
					}
				}
			}()
			for w := range writers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					r := rand.New(rand.NewPCG(uint64(w), 1))
					src := []byte{byte('a' + w)}
					for range each {
						v := append(src, make([]byte, r.IntN(300))...)
						b.Set(v)
					}
				}()
			}
			wg.Wait()
			cancel()
			readers.Wait()
			n, _ := drainAll(b)
			readN += n
			st := b.Stats()
			assert.False(t, over.Load(), "bytes held passed the bound")
			assert.Equal(t, uint64(writers*each), st.Written)
			assert.Equal(t, st.Written, st.Read+st.Dropped)
			assert.Equal(t, uint64(readN), st.Read)
			assert.Equal(t, uint64(alerted.Load()), st.Dropped)
			assert.Zero(t, st.Bytes)
		})
	}
}

func TestMaxBytesInvalid(t *testing.T) {
	_, err := NewOneToOne[[]byte](10, WithMaxBytes(0, Len))
	assert.ErrorIs(t, err, ErrInvalidConfig)
	_, err = NewManyToOne[[]byte](10, WithMaxBytes[[]byte](10, nil))
	assert.ErrorIs(t, err, ErrInvalidConfig)
	_, err = NewChannel[string](10, WithMaxBytes(10, Len)) // size function of []byte
	assert.ErrorIs(t, err, ErrInvalidConfig)
	_, err = NewFair[string](10, func(s string) string { return s }, WithMaxBytes(10, Len))
	assert.ErrorIs(t, err, ErrInvalidConfig)
	_, err = NewChannel[string](10, WithMaxBytes(10, func(s string) int { return len(s) }))
	assert.NoError(t, err)
}

// Bounding in bytes costs no allocation per element.
func TestMaxBytesAllocatesNothing(t *testing.T) {
	v := make([]byte, 100)
	for name, mk := range byteKinds() {
		t.Run(name, func(t *testing.T) {
			var alerted atomic.Int64
			b, err := mk(16, 1000, &alerted)
			require.NoError(t, err)
			allocs := testing.AllocsPerRun(1000, func() {
				for range 12 { // over the bytes: some refused
					b.Set(v)
				}
				drainAll(b)
			})
			assert.Zero(t, allocs)
		})
	}
}
