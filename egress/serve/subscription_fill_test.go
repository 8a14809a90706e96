package serve

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sluicelog/sluice/diode"
)

// fillTestSleep starts WaitFill(n) on sub and returns once it sleeps; the
// channel gets its result.
func fillTestSleep(t *testing.T, rs *routerSub, n int) chan error {
	t.Helper()
	woke := make(chan error, 1)
	go func() { woke <- rs.WaitFill(context.Background(), n, time.Hour) }()
	require.Eventually(t, rs.wake.sleeping.Load, 5*time.Second, time.Millisecond, "the reader sleeps")
	return woke
}

// fillTestWoken waits for WaitFill to return, woken by the router: its
// own timer would take an hour.
func fillTestWoken(t *testing.T, woke chan error) {
	t.Helper()
	select {
	case err := <-woke:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("WaitFill still asleep: the router did not wake it")
	}
}

func fillTestAsleep(t *testing.T, woke chan error, after string) {
	t.Helper()
	select {
	case err := <-woke:
		t.Fatalf("WaitFill returned after %s: %v", after, err)
	default:
	}
}

// A reader that wants a batch of 250 is woken once half its buffer is
// written, not left asleep while the buffer overflows: 32 envelopes of a
// buffer of 64, or in a buffer bounded in bytes half its bytes, however
// few envelopes that is (serverTestLog(t, 0..4) are all of one size).
func TestWaitFillWakesAtHalfTheBuffer(t *testing.T) {
	size := int64(len(serverTestLog(t, 0)))
	for _, tc := range []struct {
		name   string
		opts   []RouterOption
		asleep int // envelopes written that leave the reader asleep; one more wakes it
	}{
		{"envelopes", []RouterOption{WithSubscriptionDiode(64)}, 31},
		{"bytes", []RouterOption{WithSubscriptionDiode(1000), WithSubscriptionBytes(10 * size)}, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := routerTestNew(t, tc.opts...)
			sub := routerTestSubscribe(t, r, routerTestReq("A", routerTestLogs("")))
			woke := fillTestSleep(t, sub.(*routerSub), 250)
			in, err := diode.NewManyToOne[[]byte](1000)
			require.NoError(t, err)
			runTestDrained(t, r, in, tc.asleep)
			fillTestAsleep(t, woke, "half the buffer less one")
			runTestDrained(t, r, in, 1)
			fillTestWoken(t, woke)
			assert.Len(t, routerTestDrain(sub), tc.asleep+1)
			assert.Zero(t, r.Stats().Dropped.Total())
		})
	}
}

// A buffer from a WithSubscriptionBuffer factory, of a size the router
// does not know: the reader is woken at the first write, as Next is.
func TestWaitFillOnAnUnknownBufferWakesAtOnce(t *testing.T) {
	d, err := diode.NewOneToOne[[]byte](1000)
	require.NoError(t, err)
	r := routerTestNew(t, WithSubscriptionBuffer(func() diode.Buffer[[]byte] { return d }))
	sub := routerTestSubscribe(t, r, routerTestReq("A", routerTestLogs("")))
	woke := fillTestSleep(t, sub.(*routerSub), 250)
	in, err := diode.NewManyToOne[[]byte](1000)
	require.NoError(t, err)
	runTestDrained(t, r, in, 1)
	fillTestWoken(t, woke)
}

// The room in bytes: the buffer's own bound, or with a pool the reserve
// and what the pool has left, whichever is less; half of it is waited for.
func TestFillBoundBytes(t *testing.T) {
	assert.Equal(t, uint64(math.MaxUint64), fillBound{envelopes: 100}.bytes(0), "not bounded in bytes")
	assert.Equal(t, uint64(400), fillBound{maxBytes: 1000}.bytes(200))
	assert.Equal(t, uint64(1), fillBound{maxBytes: 1000}.bytes(1000), "full: any write")
	pool, err := diode.NewBytePool(1000)
	require.NoError(t, err)
	assert.Equal(t, uint64(550), fillBound{pool: pool, reserve: 100}.bytes(0))
	assert.Equal(t, uint64(300), fillBound{maxBytes: 800, pool: pool, reserve: 100}.bytes(200))
	assert.Equal(t, uint64(math.MaxUint64), fillBound{}.target(5, 0))
	assert.Equal(t, uint64(405), fillBound{maxBytes: 1000}.target(5, 200))
}
