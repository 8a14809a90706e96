package forward

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sluicelog/sluice/diode"
	"github.com/sluicelog/sluice/stats"
)

// forwarderTestDst is a ForwarderDestination whose outcomes the test
// chooses: every third batch dropped with a cause, the others sent, reported
// asynchronously as a pool would.
type forwarderTestDst struct {
	mu      sync.Mutex
	n       int
	sizes   []int
	wg      sync.WaitGroup
	refuse  error
	dropped int
}

func (d *forwarderTestDst) Write(_ context.Context, b [][]byte, done PoolDoneFunc) error {
	if d.refuse != nil {
		return d.refuse
	}
	d.mu.Lock()
	d.n++
	drop := d.n%3 == 0
	d.sizes = append(d.sizes, len(b))
	d.mu.Unlock()
	d.wg.Go(func() {
		if drop {
			done(PoolResult{Batch: b, Cause: CauseSendFailed})
		} else {
			done(PoolResult{Batch: b, Sent: true})
		}
	})
	return nil
}

func TestForwarderCountsEveryOutcome(t *testing.T) {
	buf, err := diode.NewOneToOne[[]byte](10000)
	require.NoError(t, err)
	dst := &forwarderTestDst{}
	f, err := NewForwarder(buf, dst, WithBatch(7, 10*time.Millisecond))
	require.NoError(t, err)
	for i := range 1000 {
		buf.Set([]byte{byte(i)})
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // Run drains what the buffer holds and stops
	require.NoError(t, f.Run(ctx))
	dst.wg.Wait()
	st := f.Stats()
	assert.Equal(t, uint64(1000), st.Read)
	assert.Equal(t, st.Read, st.Egress+st.Dropped[CauseSendFailed])
	assert.NotZero(t, st.Dropped[CauseSendFailed])
	assert.Zero(t, st.Pending)
	for _, n := range dst.sizes {
		assert.LessOrEqual(t, n, 7)
	}
}

func TestForwarderDestinationClosed(t *testing.T) {
	buf, err := diode.NewOneToOne[[]byte](100)
	require.NoError(t, err)
	f, err := NewForwarder(buf, &forwarderTestDst{refuse: ErrPoolClosed})
	require.NoError(t, err)
	for range 10 {
		buf.Set([]byte{1})
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	require.NoError(t, f.Run(ctx))
	assert.Equal(t, stats.Drops{CauseClosed: 10}, f.Stats().Dropped)
}

func TestForwarderConfig(t *testing.T) {
	buf := diode.Discard[[]byte]()
	_, err := NewForwarder(nil, &forwarderTestDst{})
	require.ErrorIs(t, err, ErrInvalidConfig)
	_, err = NewForwarder(buf, nil)
	require.ErrorIs(t, err, ErrInvalidConfig)
	_, err = NewForwarder(buf, &forwarderTestDst{}, WithDrainTimeout(0))
	require.ErrorIs(t, err, ErrInvalidConfig)

	f, err := NewForwarder(buf, &forwarderTestDst{})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- f.Run(ctx) }()
	require.Eventually(t, func() bool { return f.running.Load() }, 5*time.Second, time.Millisecond)
	require.ErrorIs(t, f.Run(ctx), ErrForwarderRunning)
	cancel()
	require.NoError(t, <-done)
}
