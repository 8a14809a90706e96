package serve

import (
	"fmt"
	"net"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sluicelog/sluice/envelope"
	"github.com/sluicelog/sluice/stats"
)

// TestGatewayEvictsClientThatDoesNotRead: a gateway client that sends its
// request and then reads nothing is evicted after the write timeout; every
// envelope routed to its shard ID is written or counted (by the Gateway,
// or by the Router under the shard ID), while a subscriber on another
// shard ID receives everything.
func TestGatewayEvictsClientThatDoesNotRead(t *testing.T) {
	r := routerTestNew(t, WithSubscriptionDiode(100), WithGroupGrace(0)) // the evicted group is counted at once
	gw, ts := gatewayTestStart(t, r, WithWriteTimeout(100*time.Millisecond), WithBatch(10, 10*time.Millisecond))
	u, err := url.Parse(ts.URL)
	require.NoError(t, err)
	c, err := net.Dial("tcp", u.Host)
	require.NoError(t, err)
	defer c.Close()
	// Small buffers on our side, so the server's writes block sooner.
	require.NoError(t, c.(*net.TCPConn).SetReadBuffer(4096))
	_, err = fmt.Fprintf(c, "GET /v2/read?log&shard_id=slow HTTP/1.1\r\nHost: %s\r\n\r\n", u.Host)
	require.NoError(t, err)
	fast := routerTestSubscribe(t, r, routerTestReq("fast", routerTestLogs("")))
	serverTestWaitSubs(t, r, 2)

	env := routerTestMarshal(t, envelope.NewLog("app", make([]byte, 8192)))
	n, received := 0, 0
	deadline := time.Now().Add(30 * time.Second)
	for gw.Stats().Streams != 0 {
		require.True(t, time.Now().Before(deadline), "the client was never evicted")
		for range 50 {
			require.NoError(t, r.Publish(env))
		}
		n += 50
		received += len(routerTestDrain(fast))
	}
	serverTestWaitSubs(t, r, 1)
	assert.Equal(t, n, received, "the other subscriber got everything")

	rs, gs := r.Stats(), gw.Stats()
	slow := rs.Shards["slow"]
	// The slow subscription left at the eviction, a little before its
	// stream ended: what was routed to it is written or counted.
	assert.LessOrEqual(t, slow.Egress, uint64(n))
	assert.Equal(t, slow.Egress, gs.Egress+gs.Dropped.Total()+slow.Dropped.Total(), "written or counted: %+v %+v", gs, slow)
	assert.Contains(t, gs.Dropped.Causes(), CauseWriteTimeout)
	assert.NotContains(t, gs.Dropped.Causes(), CauseClientGone)
	// The gateway's drops are located: all under the evicted client's shard ID.
	require.Len(t, gs.DroppedByShard, 1, "%+v", gs.DroppedByShard)
	assert.Equal(t, gs.Dropped, gs.DroppedByShard["slow"])
	assert.Equal(t, uint64(1), gs.Evicted)
	var series []string
	gw.Report(func(m stats.Metric) {
		if m.Name == stats.Dropped {
			series = append(series, fmt.Sprint(m.Tags))
		}
	})
	assert.Contains(t, series, fmt.Sprint([]stats.Tag{{Key: stats.TagDirection, Value: stats.DirectionEgress}, {Key: stats.TagShardID, Value: "slow"}, {Key: stats.TagCause, Value: CauseWriteTimeout}}))
}
