package batch

import (
	"context"
	"sync"
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

func TestFullBatchesFlushAtOnceAndCloseDrains(t *testing.T) {
	buf, err := diode.NewOneToOne[int](1000)
	require.NoError(t, err)
	for i := range 250 {
		buf.Set(i)
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
	// The 50 left are held (interval is an hour, idle is 6 minutes) until
	// the context ends, then drained and flushed.
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
