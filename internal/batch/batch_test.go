package batch

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/sluicelog/sluice/diode"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type sink struct {
	mu      sync.Mutex
	batches [][]int
	signal  chan struct{}
}

func newSink() *sink { return &sink{signal: make(chan struct{}, 1000)} }

func (s *sink) flush(b []int) {
	s.mu.Lock()
	s.batches = append(s.batches, append([]int(nil), b...))
	s.mu.Unlock()
	s.signal <- struct{}{}
}

func (s *sink) all() [][]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([][]int(nil), s.batches...)
}

// Full batches are flushed at once, the rest when the context ends, in
// order; a BulkReader gives the same batches and is never read an item at
// a time.
func TestFullBatchesFlushAtOnceAndCloseDrains(t *testing.T) {
	for _, bulk := range []bool{false, true} {
		t.Run(map[bool]string{false: "reader", true: "bulk reader"}[bulk], func(t *testing.T) {
			d, err := diode.NewOneToOne[int](1000)
			require.NoError(t, err)
			var buf Reader[int] = d
			bb := &bulkBuf{OneToOne: d}
			if bulk {
				buf = bb
			}
			for i := range 250 {
				d.Set(i)
			}
			s := newSink()
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error)
			go func() { done <- Run(ctx, buf, Config{Size: 100, Interval: time.Hour}, s.flush) }()
			<-s.signal
			<-s.signal
			got := s.all()
			require.Len(t, got, 2)
			assert.Len(t, got[0], 100)
			assert.Len(t, got[1], 100)
			// The 50 left are held (interval is an hour, idle is 6 minutes)
			// until the context ends, then drained and flushed.
			cancel()
			assert.ErrorIs(t, <-done, context.Canceled)
			got = s.all()
			require.Len(t, got, 3)
			assert.Len(t, got[2], 50)
			n := 0
			for _, b := range got {
				for _, v := range b {
					assert.Equal(t, n, v)
					n++
				}
			}
			assert.Equal(t, 250, n)
			assert.Equal(t, int64(0), bb.oneCalls.Load(), "a BulkReader is read in bulk")
		})
	}
}

func TestIdleFlushDoesNotWaitForInterval(t *testing.T) {
	buf, err := diode.NewOneToOne[int](10)
	require.NoError(t, err)
	s := newSink()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() {
		done <- Run(ctx, buf, Config{Size: 100, Interval: time.Hour, Idle: 5 * time.Millisecond}, s.flush)
	}()
	buf.Set(7)
	select {
	case <-s.signal:
	case <-time.After(5 * time.Second):
		t.Fatal("a lone item was not flushed by the idle timer")
	}
	assert.Equal(t, [][]int{{7}}, s.all())
	cancel()
	<-done
}

func TestIntervalBoundsAgeUnderSteadyTrickle(t *testing.T) {
	buf, err := diode.NewOneToOne[int](1000)
	require.NoError(t, err)
	s := newSink()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	// Items arrive faster than Idle, so only Interval can flush them.
	go func() {
		done <- Run(ctx, buf, Config{Size: 1000, Interval: 30 * time.Millisecond, Idle: 20 * time.Millisecond}, s.flush)
	}()
	stop := time.After(200 * time.Millisecond)
	i := 0
loop:
	for {
		select {
		case <-stop:
			break loop
		case <-time.After(2 * time.Millisecond):
			buf.Set(i)
			i++
		}
	}
	cancel()
	<-done
	got := s.all()
	assert.GreaterOrEqual(t, len(got), 3, "the interval must cut a steady trickle into several batches")
	total := 0
	for _, b := range got {
		total += len(b)
	}
	assert.Equal(t, i, total)
}

// bulkBuf is a OneToOne that also hands over several items at once, and
// counts how often it was asked each way.
type bulkBuf struct {
	*diode.OneToOne[int]
	oneCalls atomic.Int64
}

func (b *bulkBuf) TryNext() (int, bool) {
	b.oneCalls.Add(1)
	return b.OneToOne.TryNext()
}

func (b *bulkBuf) TryNextN(dst []int, n int) []int {
	for range n {
		v, ok := b.OneToOne.TryNext()
		if !ok {
			break
		}
		dst = append(dst, v)
	}
	return dst
}
