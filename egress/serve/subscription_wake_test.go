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
