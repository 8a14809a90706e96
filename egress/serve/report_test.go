package serve

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/sluicelog/sluice/envelope"
	"github.com/sluicelog/sluice/stats"
)

func TestRouterReportUsesLoggregatorNames(t *testing.T) {
	rt, err := NewRouter(WithSubscriptionDiode(2), WithGroupGrace(0))
	require.NoError(t, err)
	defer rt.Close()
	sub, err := rt.Subscribe(context.Background(), routerTestReq("nozzle-a", routerTestLogs("")))
	require.NoError(t, err)
	b, err := proto.Marshal(envelope.NewLog("app", []byte("x")))
	require.NoError(t, err)
	for range 5 {
		require.NoError(t, rt.Publish(b))
	}
	require.ErrorIs(t, rt.Publish([]byte{0xff}), envelope.ErrMalformed)
	require.ErrorIs(t, rt.Publish(make([]byte, DefaultMaxEnvelopeBytes+1)), ErrEnvelopeTooLarge)
	// A diode of 2 read after 5 writes (go-diodes' rules): the reader finds
	// write 4 in its slot, skips 0..3 and reads 4.
	_, ok := sub.TryNext()
	require.True(t, ok)
	_, ok = sub.TryNext()
	require.False(t, ok)
	require.NoError(t, rt.Publish(b)) // held when the subscription closes
	require.NoError(t, sub.Close())

	var got []stats.Metric
	rt.Report(func(m stats.Metric) { got = append(got, m) })
	shard := stats.Tag{Key: "shard_id", Value: "nozzle-a"}
	egress := stats.Tag{Key: "direction", Value: "egress"}
	assert.Equal(t, []stats.Metric{
		stats.CounterOf("ingress", stats.HelpIngress, 6),
		stats.CounterOf("routed", stats.HelpRouted, 6),
		stats.CounterOf("unrouted", stats.HelpUnrouted, 0),
		stats.CounterOf("egress", stats.HelpEgress, 6),
		stats.CounterOf("dropped", stats.HelpDropped, 0, stats.Tag{Key: "direction", Value: "ingress"}, stats.Tag{Key: "cause", Value: "closed"}),
		stats.CounterOf("dropped", stats.HelpDropped, 1, stats.Tag{Key: "direction", Value: "ingress"}, stats.Tag{Key: "cause", Value: "malformed"}),
		stats.CounterOf("dropped", stats.HelpDropped, 1, stats.Tag{Key: "direction", Value: "ingress"}, stats.Tag{Key: "cause", Value: "too_large"}),
		stats.CounterOf("rejected_streams", stats.HelpRejectedStreams, 0),
		stats.GaugeOf("subscriptions", stats.HelpSubscriptions, 0),
		stats.CounterOf("dropped", stats.HelpDropped, 1, egress, shard, stats.Tag{Key: "cause", Value: "closed"}),
		stats.CounterOf("dropped", stats.HelpDropped, 4, egress, shard, stats.Tag{Key: "cause", Value: "overflow"}),
		stats.CounterOf("egress_by_shard", "Envelope copies handed to the subscriptions of one shard ID.", 6, shard),
		stats.GaugeOf("subscriptions_by_shard", "Subscriptions open now with one shard ID.", 0, shard),
	}, got)
}
