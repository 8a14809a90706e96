package serve

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sluicelog/sluice/envelope"
	"github.com/sluicelog/sluice/stats"
)

// WithSubscriptionPool bounds all subscriptions together: each may hold 4
// envelopes of its own, but the pool holds 6, so the second subscription
// gets 2 while the first holds 4; overflow counts under each shard ID; a
// closed subscription's unread bytes go back to the pool.
func TestRouterSubscriptionPool(t *testing.T) {
	e := routerTestMarshal(t, envelope.NewLog("app", make([]byte, 100)))
	n := int64(len(e))
	for name, kind := range map[string]RouterOption{"diode": WithSubscriptionDiode(1000), "channel": WithSubscriptionChannel(1000)} {
		t.Run(name, func(t *testing.T) {
			r := routerTestNew(t, kind, WithGroupGrace(0), WithSubscriptionBytes(4*n), WithSubscriptionPool(6*n, 0))
			a := routerTestSubscribe(t, r, routerTestReq("a", routerTestLogs("app")))
			for range 5 {
				require.NoError(t, r.Publish(e))
			}
			b := routerTestSubscribe(t, r, routerTestReq("b", routerTestLogs("app")))
			for range 5 {
				require.NoError(t, r.Publish(e))
			}
			// a: 4 of the first 5 fit its own bound, none of the next 5;
			// b: 2 fit what the pool has left.
			st := r.Stats()
			assert.Equal(t, 6*n, st.PoolBytes)
			assert.Equal(t, stats.Drops{CauseOverflow: 6}, st.Shards["a"].Dropped)
			assert.Equal(t, stats.Drops{CauseOverflow: 3}, st.Shards["b"].Dropped)

			var gauge []float64
			r.Report(func(m stats.Metric) {
				if m.Name == subscriptionPoolBytes {
					gauge = append(gauge, m.Value)
				}
			})
			assert.Equal(t, []float64{float64(6 * n)}, gauge)

			// a closes holding 4: they go back to the pool.
			require.NoError(t, a.Close())
			require.Eventually(t, func() bool { return r.Stats().PoolBytes == 2*n }, 5*time.Second, time.Millisecond)
			assert.Equal(t, stats.Drops{CauseOverflow: 6, CauseClosed: 4}, r.Stats().Shards["a"].Dropped)
			for range 3 {
				require.NoError(t, r.Publish(e))
			}
			assert.Len(t, routerTestDrain(b), 4) // room again: 4 is b's own bound
			assert.Equal(t, int64(0), r.Stats().PoolBytes)
			assert.Equal(t, stats.Drops{CauseOverflow: 4}, r.Stats().Shards["b"].Dropped)
		})
	}
	_, err := NewRouter(WithSubscriptionPool(-1, 0))
	assert.ErrorIs(t, err, ErrInvalidConfig)
	_, err = NewRouter(WithSubscriptionPool(100, -1))
	assert.ErrorIs(t, err, ErrInvalidConfig)
}

// With a reserve, a subscription gets room of its own however full the
// pool: a stalled one cannot starve a new one of everything.
func TestRouterSubscriptionPoolReserve(t *testing.T) {
	e := routerTestMarshal(t, envelope.NewLog("app", make([]byte, 100)))
	n := int64(len(e))
	r := routerTestNew(t, WithGroupGrace(0), WithSubscriptionPool(4*n, 2*n))
	stalled := routerTestSubscribe(t, r, routerTestReq("stalled", routerTestLogs("app")))
	for range 10 {
		require.NoError(t, r.Publish(e)) // 2 in its reserve, 4 from the pool
	}
	assert.Equal(t, 4*n, r.Stats().PoolBytes)
	fresh := routerTestSubscribe(t, r, routerTestReq("fresh", routerTestLogs("app")))
	for range 3 {
		require.NoError(t, r.Publish(e))
	}
	assert.Len(t, routerTestDrain(fresh), 2) // its reserve
	st := r.Stats()
	assert.Equal(t, stats.Drops{CauseOverflow: 7}, st.Shards["stalled"].Dropped)
	assert.Equal(t, stats.Drops{CauseOverflow: 1}, st.Shards["fresh"].Dropped)
	assert.Len(t, routerTestDrain(stalled), 6)
	assert.Equal(t, int64(0), r.Stats().PoolBytes)
}

// A shard group's parked buffer keeps its bytes through the grace period
// and gives them back when the period ends.
func TestRouterSubscriptionPoolGrace(t *testing.T) {
	e := routerTestMarshal(t, envelope.NewLog("app", make([]byte, 100)))
	n := int64(len(e))
	r := routerTestNew(t, WithGroupGrace(50*time.Millisecond), WithSubscriptionPool(10*n, 0))
	a := routerTestSubscribe(t, r, routerTestReq("a", routerTestLogs("app")))
	for range 3 {
		require.NoError(t, r.Publish(e))
	}
	require.NoError(t, a.Close())
	require.NoError(t, r.Publish(e)) // parked: still buffered
	assert.Equal(t, 4*n, r.Stats().PoolBytes)
	require.Eventually(t, func() bool { return r.Stats().PoolBytes == 0 }, 5*time.Second, time.Millisecond)
	assert.Equal(t, stats.Drops{CauseNoSubscriber: 4}, r.Stats().Shards["a"].Dropped)
}
