package batch

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sluicelog/sluice/diode"
)

// fillBuffer is a channel buffer that is also a Filler: it records what
// each WaitFill asked for and lets the test say when it returns.
type fillBuffer struct {
	*diode.Channel[int]
	mu    sync.Mutex
	asked []int
	ret   chan struct{}
}

func (f *fillBuffer) WaitFill(ctx context.Context, n int, d time.Duration) error {
	f.mu.Lock()
	f.asked = append(f.asked, n)
	f.mu.Unlock()
	select {
	case <-f.ret:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (f *fillBuffer) calls() []int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]int(nil), f.asked...)
}

// With a partial batch, Run asks a Filler for the rest of the batch
// instead of waiting for the next item; a wait that brings nothing is the
// idle flush.
func TestRunWaitsForAFillerToFill(t *testing.T) {
	ch, err := diode.NewChannel[int](100)
	require.NoError(t, err)
	buf := &fillBuffer{Channel: ch, ret: make(chan struct{})}
	for i := range 3 {
		buf.Set(i)
	}
	s := newSink()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, buf, Config{Size: 10, Interval: time.Minute, Idle: time.Minute}, s.flush) }()
	require.Eventually(t, func() bool { return len(buf.calls()) == 1 }, 5*time.Second, time.Millisecond)
	assert.Equal(t, []int{7}, buf.calls(), "the rest of a batch of 10")
	for i := 3; i < 5; i++ {
		buf.Set(i)
	}
	buf.ret <- struct{}{} // woken with 2 more: it waits for the last 5
	require.Eventually(t, func() bool { return len(buf.calls()) == 2 }, 5*time.Second, time.Millisecond)
	assert.Equal(t, []int{7, 5}, buf.calls())
	assert.Empty(t, s.all())
	buf.ret <- struct{}{} // nothing came: the idle flush
	<-s.signal
	assert.Equal(t, [][]int{{0, 1, 2, 3, 4}}, s.all())
	cancel()
	require.ErrorIs(t, <-done, context.Canceled)
}
