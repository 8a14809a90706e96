package serve

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sluicelog/sluice/envelope"
	"github.com/sluicelog/sluice/stats"
)

// WithSubscriptionBytes bounds each subscription in bytes: with room for
// 1,000 envelopes but bytes for 3, the rest overflow, counted under the
// shard ID, for a diode and for a channel alike.
func TestRouterSubscriptionBytes(t *testing.T) {
	e := routerTestMarshal(t, envelope.NewLog("app", make([]byte, 100)))
	for name, kind := range map[string]RouterOption{"diode": WithSubscriptionDiode(1000), "channel": WithSubscriptionChannel(1000)} {
		t.Run(name, func(t *testing.T) {
			r := routerTestNew(t, kind, WithSubscriptionBytes(int64(3*len(e))))
			s := routerTestSubscribe(t, r, routerTestReq("g", routerTestLogs("app")))
			for range 10 {
				require.NoError(t, r.Publish(e))
			}
			st := r.Stats()
			assert.Equal(t, uint64(10), st.Egress)
			assert.Equal(t, stats.Drops{CauseOverflow: 7}, st.Shards["g"].Dropped)
			assert.Len(t, routerTestDrain(s), 3)
			// Room again once read.
			require.NoError(t, r.Publish(e))
			assert.Len(t, routerTestDrain(s), 1)
			assert.Equal(t, stats.Drops{CauseOverflow: 7}, r.Stats().Dropped)
		})
	}
	_, err := NewRouter(WithSubscriptionBytes(-1))
	assert.ErrorIs(t, err, ErrInvalidConfig)
}
