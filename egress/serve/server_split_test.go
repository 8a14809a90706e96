package serve

import (
	"bytes"
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sluicelog/sluice/envelope"
	"github.com/sluicelog/sluice/internal/wire"
)

// A batch of large envelopes is sent as several messages of at most
// DefaultMaxBatchBytes, so that a stock client, which refuses messages
// over 4 MiB, receives every envelope: 60 envelopes of 100 KiB (6 MB, one
// batch) arrive as 6 messages of 10.
func TestServerSplitsLargeBatches(t *testing.T) {
	big := routerTestMarshal(t, envelope.NewLog("app", bytes.Repeat([]byte("x"), 100<<10)))
	sub := &gatewayTestQueue{}
	for range 60 {
		sub.envs = append(sub.envs, big)
	}
	_, cc := serverTestStart(t, SubscriberFunc(func(context.Context, *envelope.EgressBatchRequest) (Subscription, error) { return sub, nil }))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stream, err := envelope.NewEgressClient(cc).BatchedReceiver(ctx, &envelope.EgressBatchRequest{Selectors: []*envelope.Selector{routerTestLogs("app")}})
	require.NoError(t, err)
	var sizes []int
	for got := 0; got < 60; {
		b, err := stream.Recv()
		require.NoError(t, err)
		sizes = append(sizes, len(b.GetBatch()))
		got += len(b.GetBatch())
	}
	assert.Equal(t, []int{10, 10, 10, 10, 10, 10}, sizes)
}

func TestLeadingFit(t *testing.T) {
	e := func(n int) []byte { return make([]byte, n) }
	f := wire.FramedSize(100) // 102
	for _, c := range []struct {
		envs [][]byte
		max  int
		want int
	}{
		{[][]byte{e(100), e(100), e(100)}, 3 * f, 3},
		{[][]byte{e(100), e(100), e(100)}, 3*f - 1, 2},
		{[][]byte{e(100), e(100), e(100)}, f, 1},
		{[][]byte{e(1000), e(100)}, f, 1}, // larger than max: alone
		{[][]byte{e(100)}, 1, 1},
		{nil, 10, 0},
	} {
		assert.Equal(t, c.want, leadingFit(c.envs, c.max), "max %d", c.max)
	}
}

func TestMaxBatchBytesIsChecked(t *testing.T) {
	_, err := NewServer(routerTestNew(t), WithMaxBatchBytes(0))
	assert.ErrorIs(t, err, ErrInvalidConfig)
}
