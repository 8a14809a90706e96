package telemetry_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/sluicelog/sluice/diode"
	"github.com/sluicelog/sluice/egress/serve"
	"github.com/sluicelog/sluice/envelope"
	"github.com/sluicelog/sluice/telemetry"
)

func find(ms []telemetry.Metric, name string, tags map[string]string) (telemetry.Metric, bool) {
	for _, m := range ms {
		if m.Name != name {
			continue
		}
		ok := true
		for k, v := range tags {
			if m.Tags[k] != v {
				ok = false
			}
		}
		if ok {
			return m, true
		}
	}
	return telemetry.Metric{}, false
}

func TestRouterAdapterUsesLoggregatorNames(t *testing.T) {
	rt, err := serve.NewRouter(serve.WithSubscriptionDiode(2))
	require.NoError(t, err)
	defer rt.Close()
	sub, err := rt.Subscribe(context.Background(), &envelope.EgressBatchRequest{
		ShardId:   "nozzle-a",
		Selectors: []*envelope.Selector{{Message: &envelope.Selector_Log{Log: &envelope.LogSelector{}}}},
	})
	require.NoError(t, err)
	defer sub.Close()
	b, err := proto.Marshal(envelope.NewLog("app", []byte("x")))
	require.NoError(t, err)
	for range 5 {
		require.NoError(t, rt.Publish(b))
	}
	// A diode of 2 read after 5 writes (go-diodes' rules): the reader finds
	// write 4 in its slot, skips 0..3 and reads 4; write 3 is stale.
	got := 0
	for {
		if _, ok := sub.TryNext(); !ok {
			break
		}
		got++
	}
	require.Equal(t, 1, got)

	ms := telemetry.Router(rt).Metrics(nil)
	m, ok := find(ms, "ingress", nil)
	require.True(t, ok)
	assert.Equal(t, 5.0, m.Value)
	m, ok = find(ms, "dropped", map[string]string{"direction": "egress", "shard_id": "nozzle-a"})
	require.True(t, ok)
	assert.Equal(t, 4.0, m.Value)
	m, ok = find(ms, "subscriptions", nil)
	require.True(t, ok)
	assert.Equal(t, telemetry.Gauge, m.Kind)
	assert.Equal(t, 1.0, m.Value)
}

func TestBufferAdapter(t *testing.T) {
	buf, err := diode.NewChannel[int](1)
	require.NoError(t, err)
	buf.Set(1)
	buf.Set(2) // refused: full
	ms := telemetry.Buffer(buf, "ingress").Metrics(nil)
	m, ok := find(ms, "dropped", map[string]string{"direction": "ingress"})
	require.True(t, ok)
	assert.Equal(t, 1.0, m.Value)
	m, ok = find(ms, "buffer_pending", nil)
	require.True(t, ok)
	assert.Equal(t, 1.0, m.Value)
}
