package serve

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sluicelog/sluice/diode"
)

// wakeSpyBuffer is a subscription buffer that records, at each write,
// whether the subscription's reader had already been woken.
type wakeSpyBuffer struct {
	diode.Buffer[[]byte]
	waker     atomic.Pointer[subWaker]
	wokenMid  atomic.Uint64 // writes that found the reader already woken
	writes    atomic.Uint64
	watchFrom atomic.Bool
}

func (b *wakeSpyBuffer) Set(v []byte) {
	b.Buffer.Set(v)
	b.writes.Add(1)
	if w := b.waker.Load(); w != nil && b.watchFrom.Load() && !w.sleeping.Load() {
		b.wokenMid.Add(1)
	}
}

// Run wakes a sleeping subscription reader once, after a burst, not at
// the burst's first envelope: during the whole burst the reader still
// sleeps, and then it finds every envelope of the burst.
func TestRunWakesAReaderOncePerBurst(t *testing.T) {
	d, err := diode.NewOneToOne[[]byte](1000)
	require.NoError(t, err)
	spy := &wakeSpyBuffer{Buffer: d}
	r := routerTestNew(t, WithSubscriptionBuffer(func() diode.Buffer[[]byte] { return spy }))
	sub := routerTestSubscribe(t, r, routerTestReq("A", routerTestLogs("")))
	rs := sub.(*routerSub)
	spy.waker.Store(&rs.wake)

	got := make(chan []byte, 1)
	go func() {
		v, err := sub.Next(context.Background())
		assert.NoError(t, err)
		got <- v
	}()
	require.Eventually(t, rs.wake.sleeping.Load, 5*time.Second, time.Millisecond, "the reader sleeps")
	spy.watchFrom.Store(true)

	in, err := diode.NewManyToOne[[]byte](1000)
	require.NoError(t, err)
	envs := runTestDrained(t, r, in, runBurst)

	assert.Equal(t, envs[0], <-got)
	assert.Equal(t, uint64(runBurst), spy.writes.Load())
	assert.Equal(t, uint64(0), spy.wokenMid.Load(), "writes of the burst that found the reader woken")
	assert.Equal(t, envs[1:], routerTestDrain(sub))
	st := r.Stats()
	assert.Equal(t, uint64(runBurst), st.Egress)
	assert.Equal(t, uint64(0), st.Dropped.Total())
}

// Publish (one envelope, not a burst) wakes the reader at once.
func TestPublishWakesAReader(t *testing.T) {
	r := routerTestNew(t)
	sub := routerTestSubscribe(t, r, routerTestReq("A", routerTestLogs("")))
	rs := sub.(*routerSub)
	got := make(chan []byte, 1)
	go func() {
		v, err := sub.Next(context.Background())
		assert.NoError(t, err)
		got <- v
	}()
	require.Eventually(t, rs.wake.sleeping.Load, 5*time.Second, time.Millisecond)
	env := serverTestLog(t, 7)
	require.NoError(t, r.Publish(env))
	assert.Equal(t, env, <-got)
}

// A reader waiting for a batch's worth (WaitFill) is woken once, when
// Run's bursts make it up, not once per burst: two bursts of 100 leave a
// reader that wants 250 asleep, the third wakes it.
func TestWaitFillWakesOnceTheBatchIsThere(t *testing.T) {
	r := routerTestNew(t)
	sub := routerTestSubscribe(t, r, routerTestReq("A", routerTestLogs("")))
	rs := sub.(*routerSub)
	woke := make(chan error, 1)
	go func() { woke <- rs.WaitFill(context.Background(), 250, time.Minute) }()
	require.Eventually(t, rs.wake.sleeping.Load, 5*time.Second, time.Millisecond, "the reader sleeps")

	in, err := diode.NewManyToOne[[]byte](1000)
	require.NoError(t, err)
	runTestDrained(t, r, in, 100)
	runTestDrained(t, r, in, 100)
	assert.True(t, rs.wake.sleeping.Load(), "woken before its batch was there")
	select {
	case err := <-woke:
		t.Fatalf("WaitFill returned early: %v", err)
	default:
	}
	runTestDrained(t, r, in, 100)
	require.NoError(t, <-woke)
	assert.Len(t, routerTestDrain(sub), 300)
}

// WaitFill returns at once when the batch is there already, after d when
// it never comes, and with the context's error or ErrSubscriptionClosed.
func TestWaitFillBounds(t *testing.T) {
	r := routerTestNew(t)
	sub := routerTestSubscribe(t, r, routerTestReq("A", routerTestLogs("")))
	rs := sub.(*routerSub)
	env := serverTestLog(t, 1)
	for range 3 {
		require.NoError(t, r.Publish(env))
	}
	require.NoError(t, rs.WaitFill(context.Background(), 3, time.Minute), "already there")
	start := time.Now()
	require.NoError(t, rs.WaitFill(context.Background(), 10, 20*time.Millisecond))
	assert.GreaterOrEqual(t, time.Since(start), 20*time.Millisecond)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	assert.ErrorIs(t, rs.WaitFill(ctx, 10, time.Minute), context.Canceled)
	go func() {
		assert.Eventually(t, rs.wake.sleeping.Load, 5*time.Second, time.Millisecond)
		_ = sub.Close()
	}()
	assert.ErrorIs(t, rs.WaitFill(context.Background(), 10, time.Minute), ErrSubscriptionClosed)
}
