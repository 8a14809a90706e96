package harness_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sluicelog/sluice/harness"
)

// The all-in-one firehose runs for a few seconds and its books close
// exactly: for every shard group, sent == delivered + counted drops, with
// nothing lost uncounted.
func TestTopologyAccountingIsExact(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	topo, err := harness.StartTopology(ctx, harness.TopologyConfig{
		Rate:              5000,
		TelemetryInterval: 200 * time.Millisecond,
		Groups:            []harness.Group{{ShardID: "archive", Nozzles: 2}, {ShardID: "metrics", Nozzles: 1}},
	})
	require.NoError(t, err)
	defer topo.Close()
	emitted := topo.Load(ctx, 2*time.Second)
	require.Equal(t, uint64(10000), emitted)
	require.NoError(t, topo.Drain(ctx))

	rep := topo.Report()
	var out bytes.Buffer
	rep.Print(&out)
	t.Log("\n" + out.String())
	require.True(t, rep.Balanced(), "books do not close")
	assert.Greater(t, rep.Telemetry, uint64(0), "routers emitted their own stats")
	for _, g := range rep.Groups {
		assert.Equal(t, int64(0), g.Lost, "group %s: nothing lost uncounted in a graceful run", g.ShardID)
		assert.Equal(t, rep.Sent, g.Delivered+g.Dropped, "group %s", g.ShardID)
	}
	assert.Equal(t, uint64(0), rep.Held)
}

// A router stops abruptly mid-run: delivery goes on through the other, and
// the only loss nobody counted is what was inside the broken egress streams
// between the stopped router and the proxy, which stays small.
func TestTopologyRouterCrash(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	topo, err := harness.StartTopology(ctx, harness.TopologyConfig{
		Rate:         5000,
		Acknowledged: true,
		Groups:       []harness.Group{{ShardID: "archive", Nozzles: 2}, {ShardID: "metrics", Nozzles: 1}},
	})
	require.NoError(t, err)
	defer topo.Close()

	// A third of the load, then the crash once every group has had some
	// delivery, then the rest: what comes after the crash is known however
	// far behind a loaded machine runs.
	require.Equal(t, uint64(5000), topo.Load(ctx, time.Second))
	require.Eventually(t, func() bool {
		for _, g := range topo.Report().Groups {
			if g.Delivered == 0 {
				return false
			}
		}
		return true
	}, time.Minute, time.Millisecond)
	topo.StopRouter(topo.Routers[0])
	atStop := topo.Report()
	require.Equal(t, uint64(10000), topo.Load(ctx, 2*time.Second))
	require.NoError(t, topo.Drain(ctx))

	rep := topo.Report()
	var out bytes.Buffer
	rep.Print(&out)
	t.Log("\n" + out.String())
	// Delivery resumed through the other router: most of what was sent
	// after the crash arrived in every group (a few batches may have gone
	// to the crashed router before its pools noticed).
	for i, g := range rep.Groups {
		assert.GreaterOrEqual(t, g.Delivered-atStop.Groups[i].Delivered, uint64(5000), "group %s after the crash", g.ShardID)
	}
	// Delivery resumed through the other router: most of what was sent
	// after the crash arrived in every group (a few batches may have gone
	// to the crashed router before its pools noticed).
	for i, g := range rep.Groups {
		assert.GreaterOrEqual(t, g.Delivered-atStop.Groups[i].Delivered, uint64(5000), "group %s after the crash", g.ShardID)
	}
	// With acknowledged agents the agent-to-router hop loses nothing
	// uncounted (a batch a router took but could not confirm is retried,
	// so it may arrive twice: a negative loss, bounded by what was in
	// flight).
	assert.LessOrEqual(t, rep.Hops[2].Lost, int64(0), "agents to routers")
	assert.GreaterOrEqual(t, rep.Hops[2].Lost, int64(-4*5*100), "duplicates at most the pool's in-flight batches")
	assert.Equal(t, int64(0), rep.Hops[1].Lost, "emitters to agents")
	for _, g := range rep.Groups {
		router, firehose, nozzles := g.Hops[0], g.Hops[1], g.Hops[2]
		_ = router
		assert.Equal(t, int64(0), nozzles.Lost, "group %s: proxy to nozzles", g.ShardID)
		// What was inside the stopped router's egress streams: at most
		// two HTTP/2 windows (64 KiB each) of ~150-byte envelopes per
		// stream, one stream per nozzle of the group.
		assert.GreaterOrEqual(t, firehose.Lost, int64(0), "group %s", g.ShardID)
		assert.LessOrEqual(t, firehose.Lost, int64(900*g.Nozzles), "group %s: in-stream loss", g.ShardID)
		assert.Equal(t, int64(rep.Sent)+int64(g.Duplicates), int64(g.Delivered)+int64(g.Dropped)+g.Lost, "group %s books", g.ShardID)
		assert.True(t, g.Balanced(rep.Sent), "group %s: losses and duplicates within their bounds", g.ShardID)
	}
}
