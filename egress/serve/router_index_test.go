package serve

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/sluicelog/sluice/diode"
	"github.com/sluicelog/sluice/envelope"
)

// routerTestManyIDs is a request with one log selector for each of n
// distinct source IDs ("s0".."s<n-1>").
func routerTestManyIDs(shard string, n int) *envelope.EgressBatchRequest {
	req := &envelope.EgressBatchRequest{ShardId: shard, Selectors: make([]*envelope.Selector, n)}
	for i := range n {
		req.Selectors[i] = routerTestLogs("s" + strconv.Itoa(i))
	}
	return req
}

// TestRouterSubscribeLinear: the work done under the router's lock for a
// subscription with 40,000 distinct source IDs is one entry per source ID
// (it was one selector scan per source ID, 1.6 billion steps), and the
// subscription routes each of them.
func TestRouterSubscribeLinear(t *testing.T) {
	const n = 40_000
	r := routerTestNew(t, WithLimits(Limits{MaxSelectors: n, MaxSourceIDs: n}), WithGroupGrace(0)) // leaving frees the group at once
	other := routerTestSubscribe(t, r, routerTestReq("other", routerTestLogs("s7")))
	steps := r.rebuildSteps

	big := routerTestSubscribe(t, r, routerTestManyIDs("big", n))
	assert.Equal(t, uint64(n), r.rebuildSteps-steps, "one entry per source ID")

	for _, id := range []string{"s0", "s7", "s39999", "nobody"} {
		require.NoError(t, r.Publish(routerTestMarshal(t, envelope.NewLog(id, nil))))
	}
	assert.Len(t, routerTestDrain(big), 3)
	assert.Len(t, routerTestDrain(other), 1)

	steps = r.rebuildSteps
	require.NoError(t, big.Close())
	assert.Equal(t, uint64(0), r.rebuildSteps-steps, "leaving builds no entry")
	require.NoError(t, r.Publish(routerTestMarshal(t, envelope.NewLog("s0", nil))))
	require.NoError(t, r.Publish(routerTestMarshal(t, envelope.NewLog("s7", nil))))
	assert.Len(t, routerTestDrain(other), 1)
	assert.Equal(t, uint64(3), r.Stats().Shards["big"].Egress)
}

// TestRouterSubscribeGroupEntries: in a group, a source ID's entry lists
// the members naming it and those selecting every source ID; members with
// equal selectors there are uniform (matched once), others not.
func TestRouterSubscribeGroupEntries(t *testing.T) {
	r := routerTestNew(t)
	a := routerTestSubscribe(t, r, routerTestReq("g", routerTestLogs("x"), routerTestLogs("")))
	b := routerTestSubscribe(t, r, routerTestReq("g", routerTestLogs("x"), routerTestLogs("")))
	c := routerTestSubscribe(t, r, routerTestReq("g", routerTestCounters("y", "")))

	bx := r.table.Load().lookup("x")
	require.NotNil(t, bx)
	require.Len(t, bx.entries, 1)
	assert.Len(t, bx.entries[0].members, 2)
	assert.True(t, bx.entries[0].uniform)
	by := r.table.Load().lookup("y")
	require.NotNil(t, by)
	assert.Len(t, by.entries[0].members, 3, "c names y; a and b select every source ID")
	assert.False(t, by.entries[0].uniform)
	w := r.wild.Load()
	require.NotNil(t, w)
	assert.Len(t, w.entries[0].members, 2)
	assert.True(t, w.entries[0].mixed)

	// A log from y matches a or b (c wants counters): one copy.
	require.NoError(t, r.Publish(routerTestMarshal(t, envelope.NewLog("y", nil))))
	got := len(routerTestDrain(a)) + len(routerTestDrain(b)) + len(routerTestDrain(c))
	assert.Equal(t, 1, got)
}

func TestRouterLimits(t *testing.T) {
	lim := Limits{MaxSelectors: 4, MaxSourceIDs: 2, MaxShardIDLen: 8, MaxShards: 1}
	tests := []struct {
		name  string
		req   *envelope.EgressBatchRequest
		err   error
		cause string
		msg   string
	}{
		{"selectors", routerTestReq("", routerTestLogs("a"), routerTestLogs("a"), routerTestLogs("a"), routerTestLogs("a"), routerTestLogs("a")),
			ErrRequestTooLarge, RefusedSelectors, "serve: request too large: 5 selectors, at most 4"},
		{"source IDs", routerTestManyIDs("", 3), ErrRequestTooLarge, RefusedSourceIDs, "serve: request too large: more than 2 distinct source IDs"},
		{"shard ID", routerTestReq("123456789", routerTestLogs("")), ErrRequestTooLarge, RefusedShardID, "serve: request too large: shard ID of 9 bytes, at most 8"},
		{"shards", routerTestReq("second", routerTestLogs("")), ErrTooManyShards, RefusedShards, "serve: too many shard groups: 1 shard groups open, at most 1"},
	}
	r := routerTestNew(t, WithLimits(lim), WithGroupGrace(0))
	first := routerTestSubscribe(t, r, routerTestReq("first", routerTestLogs("a"), routerTestLogs("b")))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := r.Subscribe(context.Background(), tt.req)
			require.ErrorIs(t, err, tt.err)
			assert.EqualError(t, err, tt.msg)
		})
	}
	// Empty shard IDs and the existing group are not new shard groups.
	routerTestSubscribe(t, r, routerTestReq("", routerTestLogs("a")))
	again := routerTestSubscribe(t, r, routerTestReq("first", routerTestLogs("a")))
	st := r.Stats()
	assert.Equal(t, uint64(4), st.RejectedStreams)
	assert.Equal(t, map[string]uint64{RefusedSelectors: 1, RefusedSourceIDs: 1, RefusedShardID: 1, RefusedShards: 1}, st.Refused)
	assert.Equal(t, 3, st.Subscriptions)

	// The last member leaving frees the group: a new shard ID fits again.
	require.NoError(t, first.Close())
	_, err := r.Subscribe(context.Background(), routerTestReq("second", routerTestLogs("")))
	require.ErrorIs(t, err, ErrTooManyShards, "first still has a member")
	require.NoError(t, again.Close())
	routerTestSubscribe(t, r, routerTestReq("second", routerTestLogs("")))

	_, err = NewRouter(WithLimits(Limits{MaxShards: -1}))
	require.ErrorIs(t, err, ErrInvalidConfig)
}

// TestServerRefusesHugeRequest: over real gRPC, a request with 40,000
// distinct source IDs is refused with InvalidArgument and counted, while a
// subscriber on the same router receives every envelope.
func TestServerRefusesHugeRequest(t *testing.T) {
	r := routerTestNew(t)
	_, cc := serverTestStart(t, r)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stock := envelope.NewEgressClient(cc)
	good, err := stock.BatchedReceiver(ctx, routerTestReq("good", routerTestLogs("app")))
	require.NoError(t, err)
	serverTestWaitSubs(t, r, 1)

	const n = 1000
	for i := range n / 2 {
		require.NoError(t, r.Publish(serverTestLog(t, i)))
	}
	huge, err := stock.BatchedReceiver(ctx, routerTestManyIDs("huge", 40_000))
	require.NoError(t, err)
	_, err = huge.Recv()
	assert.Equal(t, codes.InvalidArgument, status.Code(err))
	assert.Equal(t, "serve: request too large: 40000 selectors, at most 10000", status.Convert(err).Message())
	for i := n / 2; i < n; i++ {
		require.NoError(t, r.Publish(serverTestLog(t, i)))
	}
	got := 0
	for got < n {
		b, err := good.Recv()
		require.NoError(t, err)
		got += len(b.GetBatch())
	}
	assert.Equal(t, n, got)
	st := r.Stats()
	assert.Equal(t, map[string]uint64{RefusedSelectors: 1}, st.Refused)
	assert.Equal(t, uint64(n), st.Shards["good"].Egress)
	_, ok := st.Shards["huge"]
	assert.False(t, ok, "a refused shard ID leaves no state")
}

// TestGatewayRefusesLongShardID: a shard ID over the router's limit is
// refused by the router; a 100 KB one does not get that far, the gateway
// refuses its query's length first.
func TestGatewayRefusesLongShardID(t *testing.T) {
	r := routerTestNew(t)
	gw, ts := gatewayTestStart(t, r)
	resp := gatewayTestGet(t, context.Background(), ts.URL+"/v2/read?log&shard_id="+strings.Repeat("x", DefaultMaxShardIDLen+1))
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
	assert.Equal(t, map[string]uint64{RefusedShardID: 1}, r.Stats().Refused)
	resp = gatewayTestGet(t, context.Background(), ts.URL+"/v2/read?log&shard_id="+strings.Repeat("x", 100_000))
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
	assert.Equal(t, map[string]uint64{RefusedShardID: 1}, r.Stats().Refused)
	assert.Equal(t, map[string]uint64{RefusedQueryLength: 1}, gw.Stats().Refused)
}

// BenchmarkSubscribe: subscribing and leaving with n selectors, each for
// its own source ID, on a router that has 1,000 other subscriptions.
func BenchmarkSubscribe(b *testing.B) {
	for _, n := range []int{1_000, 10_000, 100_000} {
		b.Run(fmt.Sprintf("selectors=%d", n), func(b *testing.B) {
			r, err := NewRouter(WithLimits(Limits{MaxSelectors: n, MaxSourceIDs: n}),
				WithSubscriptionBuffer(func() diode.Buffer[[]byte] { return diode.Discard[[]byte]() }))
			if err != nil {
				b.Fatal(err)
			}
			defer r.Close()
			ctx := context.Background()
			for i := range 1000 {
				if _, err := r.Subscribe(ctx, routerTestReq("", routerTestLogs("s"+strconv.Itoa(i)))); err != nil {
					b.Fatal(err)
				}
			}
			req := routerTestManyIDs("bench", n)
			b.ReportAllocs()
			for b.Loop() {
				s, err := r.Subscribe(ctx, req)
				if err != nil {
					b.Fatal(err)
				}
				if err := s.Close(); err != nil && !errors.Is(err, ErrSubscriptionClosed) {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestRouterDepartedShardsBounded: 1,000 one-off shard IDs leave at most
// MaxShards+2 entries in the stats (and so in /metrics), and no count is
// lost.
func TestRouterDepartedShardsBounded(t *testing.T) {
	r := routerTestNew(t, WithLimits(Limits{MaxShards: 8}), WithGroupGrace(0)) // a waiting group counts as open
	stay := routerTestSubscribe(t, r, routerTestReq("stay", routerTestLogs("")))
	env := routerTestMarshal(t, envelope.NewLog("app", nil))
	for i := range 1000 {
		s := routerTestSubscribe(t, r, routerTestReq("once-"+strconv.Itoa(i), routerTestLogs("")))
		require.NoError(t, r.Publish(env))
		require.Len(t, routerTestDrain(s), 1)
		require.NoError(t, s.Close())
		require.LessOrEqual(t, len(r.Stats().Shards), 8+2)
	}
	st := r.Stats()
	assert.Equal(t, uint64(2000), st.Egress)
	assert.Equal(t, ShardStats{Subscriptions: 1, Egress: 1000}, st.Shards["stay"])
	var once uint64
	for id, sh := range st.Shards {
		if id != "stay" {
			once += sh.Egress
		}
	}
	assert.Equal(t, uint64(1000), once)
	kept := len(st.Shards) - 2 // less stay and DepartedShards
	assert.Equal(t, uint64(1000-kept), st.Shards[DepartedShards].Egress, "the departed sum what they handed on")
	assert.Len(t, routerTestDrain(stay), 1000)
}

// TestRouterRefusesLargeEnvelopes: an envelope over MaxEnvelopeBytes is
// refused and counted, not carried.
func TestRouterRefusesLargeEnvelopes(t *testing.T) {
	r := routerTestNew(t, WithLimits(Limits{MaxEnvelopeBytes: 1000}))
	s := routerTestSubscribe(t, r, routerTestReq("", routerTestLogs("")))
	big := routerTestMarshal(t, envelope.NewLog("app", make([]byte, 5<<20)))
	err := r.Publish(big)
	require.ErrorIs(t, err, ErrEnvelopeTooLarge)
	assert.EqualError(t, err, fmt.Sprintf("serve: publish: serve: envelope too large: %d bytes, at most 1000", len(big)))
	require.NoError(t, r.Publish(routerTestMarshal(t, envelope.NewLog("app", make([]byte, 900)))))
	assert.Len(t, routerTestDrain(s), 1)
	st := r.Stats()
	assert.Equal(t, uint64(1), st.TooLarge)
	assert.Equal(t, uint64(1), st.Ingress)
}
