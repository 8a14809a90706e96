package serve

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/sluicelog/sluice/diode"
	"github.com/sluicelog/sluice/envelope"
	"github.com/sluicelog/sluice/stats"
)

func routerTestLogs(sourceID string) *envelope.Selector {
	return &envelope.Selector{SourceId: sourceID, Message: &envelope.Selector_Log{Log: &envelope.LogSelector{}}}
}

func routerTestCounters(sourceID, name string) *envelope.Selector {
	return &envelope.Selector{SourceId: sourceID, Message: &envelope.Selector_Counter{Counter: &envelope.CounterSelector{Name: name}}}
}

func routerTestReq(shard string, sels ...*envelope.Selector) *envelope.EgressBatchRequest {
	return &envelope.EgressBatchRequest{ShardId: shard, Selectors: sels}
}

func routerTestMarshal(t testing.TB, e *envelope.Envelope) []byte {
	t.Helper()
	b, err := proto.Marshal(e)
	require.NoError(t, err)
	return b
}

// routerTestDrain reads what s holds without waiting.
func routerTestDrain(s Subscription) [][]byte {
	var out [][]byte
	for {
		v, ok := s.TryNext()
		if !ok {
			return out
		}
		out = append(out, v)
	}
}

func routerTestNew(t testing.TB, opts ...RouterOption) *Router {
	t.Helper()
	r, err := NewRouter(opts...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = r.Close() })
	return r
}

func routerTestSubscribe(t testing.TB, r *Router, req *envelope.EgressBatchRequest) Subscription {
	t.Helper()
	s, err := r.Subscribe(context.Background(), req)
	require.NoError(t, err)
	return s
}

func TestRouterGroups(t *testing.T) {
	const n = 30_000
	r := routerTestNew(t, WithSubscriptionChannel(n))
	sels := []*envelope.Selector{routerTestLogs("")}
	a := []Subscription{
		routerTestSubscribe(t, r, routerTestReq("A", sels...)),
		routerTestSubscribe(t, r, routerTestReq("A", sels...)),
		routerTestSubscribe(t, r, routerTestReq("A", sels...)),
	}
	b := routerTestSubscribe(t, r, routerTestReq("B", sels...))
	all := routerTestSubscribe(t, r, routerTestReq("", sels...))
	for i := range n {
		require.NoError(t, r.PublishEnvelope(envelope.NewLog(strconv.Itoa(i%7), []byte(strconv.Itoa(i)))))
	}

	payloads := func(envs [][]byte) map[string]int {
		m := make(map[string]int)
		for _, b := range envs {
			var e envelope.Envelope
			require.NoError(t, proto.Unmarshal(b, &e))
			m[string(e.GetLog().GetPayload())]++
		}
		return m
	}
	seenA := make(map[string]int)
	for i, s := range a {
		got := payloads(routerTestDrain(s))
		assert.InDelta(t, n/3, len(got), n/3/100, "member %d of A", i)
		for p, c := range got {
			seenA[p] += c
		}
	}
	assert.Len(t, seenA, n, "A")
	for p, c := range seenA {
		require.Equal(t, 1, c, "A got %s %d times", p, c)
	}
	for name, s := range map[string]Subscription{"B": b, "empty shard ID": all} {
		got := payloads(routerTestDrain(s))
		assert.Len(t, got, n, name)
		for p, c := range got {
			require.Equal(t, 1, c, "%s got %s %d times", name, p, c)
		}
	}

	st := r.Stats()
	assert.Equal(t, uint64(n), st.Ingress)
	assert.Equal(t, uint64(3*n), st.Egress)
	assert.Empty(t, st.Dropped)
	assert.Equal(t, 5, st.Subscriptions)
	assert.Equal(t, ShardStats{Subscriptions: 3, Egress: n}, st.Shards["A"])
	assert.Equal(t, ShardStats{Subscriptions: 1, Egress: n}, st.Shards["B"])
	assert.Equal(t, ShardStats{Subscriptions: 1, Egress: n}, st.Shards[""])
}

func TestRouterEmptyShardIDsEachGetACopy(t *testing.T) {
	r := routerTestNew(t)
	s1 := routerTestSubscribe(t, r, routerTestReq("", routerTestLogs("app")))
	s2 := routerTestSubscribe(t, r, routerTestReq("", routerTestLogs("app")))
	for range 10 {
		require.NoError(t, r.PublishEnvelope(envelope.NewLog("app", []byte("x"))))
	}
	assert.Len(t, routerTestDrain(s1), 10)
	assert.Len(t, routerTestDrain(s2), 10)
}

// With a deterministic name, the member is chosen by the metric name: the
// same name lands on the same member whatever else is published between
// its envelopes. The names come in a different shuffled order in every
// round, with logs (round robin) and repeats in between, so that round
// robin could not land each name on one member by chance.
func TestRouterDeterministicName(t *testing.T) {
	r := routerTestNew(t, WithSubscriptionChannel(10_000))
	var members []Subscription
	for i := range 3 {
		req := routerTestReq("det", routerTestCounters("", ""), routerTestLogs(""))
		req.DeterministicName = "member-" + strconv.Itoa(i)
		members = append(members, routerTestSubscribe(t, r, req))
	}
	const names, rounds = 30, 20
	rng := rand.New(rand.NewPCG(1, 2))
	order := make([]int, names)
	for i := range order {
		order[i] = i
	}
	counters, logs := 0, 0
	for range rounds {
		rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		for _, n := range order {
			for range 1 + rng.IntN(2) {
				require.NoError(t, r.PublishEnvelope(envelope.NewCounter("src", "counter-"+strconv.Itoa(n), 1)))
				counters++
			}
			if rng.IntN(3) == 0 {
				require.NoError(t, r.PublishEnvelope(envelope.NewLog("src", []byte("log"))))
				logs++
			}
		}
	}
	owner := make(map[string]int)
	gotCounters, gotLogs := 0, 0
	for i, s := range members {
		for _, b := range routerTestDrain(s) {
			rt, err := envelope.ReadRoute(b)
			require.NoError(t, err)
			if rt.Kind == envelope.KindLog {
				gotLogs++
				continue
			}
			gotCounters++
			if o, ok := owner[rt.Name]; ok {
				require.Equal(t, o, i, "counter %s went to members %d and %d", rt.Name, o, i)
			}
			owner[rt.Name] = i
		}
	}
	assert.Equal(t, counters, gotCounters, "each counter delivered once")
	assert.Len(t, owner, names)
	assert.Equal(t, logs, gotLogs, "each log delivered once")
	perMember := make([]int, len(members))
	for _, m := range owner {
		perMember[m]++
	}
	for i, n := range perMember {
		assert.NotZero(t, n, "member %d owns no name: %v", i, perMember)
	}
}

// Envelopes without a metric name fall back to round robin in a
// deterministic group: each member gets an even share.
func TestRouterDeterministicNameLogsRoundRobin(t *testing.T) {
	r := routerTestNew(t, WithSubscriptionChannel(10_000))
	var members []Subscription
	for i := range 3 {
		req := routerTestReq("det", routerTestLogs(""))
		req.DeterministicName = "member-" + strconv.Itoa(i)
		members = append(members, routerTestSubscribe(t, r, req))
	}
	for range 300 {
		require.NoError(t, r.PublishEnvelope(envelope.NewLog("src", []byte("log"))))
	}
	for i, s := range members {
		assert.Len(t, routerTestDrain(s), 100, "logs of member %d", i)
	}
}

// TestRouterDeliversOnce: several selectors of one subscription matching one
// envelope deliver it once, also when one names the source ID and another
// selects every source ID, and inside a group.
func TestRouterDeliversOnce(t *testing.T) {
	r := routerTestNew(t)
	one := routerTestSubscribe(t, r, routerTestReq("", routerTestLogs("app"), routerTestLogs(""), routerTestLogs("app")))
	// A group whose members select differently: m1 the source, m2 everything.
	m1 := routerTestSubscribe(t, r, routerTestReq("g", routerTestLogs("app")))
	m2 := routerTestSubscribe(t, r, routerTestReq("g", routerTestLogs(""), routerTestLogs("app")))
	for range 100 {
		require.NoError(t, r.PublishEnvelope(envelope.NewLog("app", []byte("x"))))
	}
	for range 10 {
		require.NoError(t, r.PublishEnvelope(envelope.NewLog("other", []byte("x"))))
	}
	assert.Len(t, routerTestDrain(one), 110)
	n1, n2 := len(routerTestDrain(m1)), len(routerTestDrain(m2))
	assert.Equal(t, 110, n1+n2, "group g gets each envelope once")
	assert.Equal(t, 50, n1, "round robin among the members that match")
	assert.Equal(t, 60, n2)
}

func TestRouterSelectors(t *testing.T) {
	r := routerTestNew(t)
	counterA := routerTestSubscribe(t, r, routerTestReq("", routerTestCounters("app", "a")))
	gauges := routerTestSubscribe(t, r, routerTestReq("", &envelope.Selector{Message: &envelope.Selector_Gauge{Gauge: &envelope.GaugeSelector{Names: []string{"cpu", "mem"}}}}))
	timers := routerTestSubscribe(t, r, routerTestReq("", &envelope.Selector{SourceId: "app", Message: &envelope.Selector_Timer{Timer: &envelope.TimerSelector{}}}))
	events := routerTestSubscribe(t, r, routerTestReq("", &envelope.Selector{Message: &envelope.Selector_Event{Event: &envelope.EventSelector{}}}))
	now := time.Now()
	for _, e := range []*envelope.Envelope{
		envelope.NewCounter("app", "a", 1),
		envelope.NewCounter("app", "b", 1),
		envelope.NewCounter("other", "a", 1),
		envelope.NewGauge("x", []envelope.Metric{{Name: "cpu", Value: 1}, {Name: "mem", Value: 2}}),
		envelope.NewGauge("x", []envelope.Metric{{Name: "cpu", Value: 1}}),
		envelope.NewTimer("app", "t", now, now),
		envelope.NewTimer("other", "t", now, now),
		envelope.NewEvent("e", "title", "body"),
		envelope.NewLog("app", nil),
	} {
		require.NoError(t, r.PublishEnvelope(e))
	}
	assert.Len(t, routerTestDrain(counterA), 1)
	assert.Len(t, routerTestDrain(gauges), 1)
	assert.Len(t, routerTestDrain(timers), 1)
	assert.Len(t, routerTestDrain(events), 1)
}

func TestRouterLeaveAtOnce(t *testing.T) {
	r := routerTestNew(t)
	a1 := routerTestSubscribe(t, r, routerTestReq("A", routerTestLogs("")))
	a2 := routerTestSubscribe(t, r, routerTestReq("A", routerTestLogs("")))
	require.NoError(t, a1.Close())
	require.NoError(t, a1.Close(), "twice")
	for range 100 {
		require.NoError(t, r.PublishEnvelope(envelope.NewLog("s", nil)))
	}
	assert.Len(t, routerTestDrain(a2), 100)
	_, err := a1.Next(context.Background())
	require.ErrorIs(t, err, ErrSubscriptionClosed)
	_, ok := a1.TryNext()
	assert.False(t, ok)

	// The end of the subscribe context closes the subscription.
	ctx, cancel := context.WithCancel(context.Background())
	s, err := r.Subscribe(ctx, routerTestReq("B", routerTestLogs("")))
	require.NoError(t, err)
	assert.Equal(t, 2, r.Stats().Subscriptions)
	cancel()
	require.Eventually(t, func() bool { return r.Stats().Subscriptions == 1 }, 10*time.Second, time.Millisecond)
	_, err = s.Next(context.Background())
	require.ErrorIs(t, err, ErrSubscriptionClosed)
	require.NoError(t, a2.Close())
	st := r.Stats()
	assert.Equal(t, 0, st.Subscriptions)
	assert.Equal(t, ShardStats{Egress: 100}, st.Shards["A"])
}

func TestRouterNextWakesOnCloseAndData(t *testing.T) {
	r := routerTestNew(t)
	s := routerTestSubscribe(t, r, routerTestReq("", routerTestLogs("")))
	got := make(chan error, 1)
	go func() {
		v, err := s.Next(context.Background())
		if err == nil && len(v) == 0 {
			err = errors.New("empty envelope")
		}
		got <- err
	}()
	require.NoError(t, r.PublishEnvelope(envelope.NewLog("s", []byte("x"))))
	require.NoError(t, <-got)

	go func() {
		_, err := s.Next(context.Background())
		got <- err
	}()
	require.NoError(t, s.Close())
	require.ErrorIs(t, <-got, ErrSubscriptionClosed)

	s2 := routerTestSubscribe(t, r, routerTestReq("", routerTestLogs("")))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	_, err := s2.Next(ctx)
	require.ErrorIs(t, err, context.DeadlineExceeded)
}

func TestRouterDropsPerShard(t *testing.T) {
	r := routerTestNew(t, WithSubscriptionDiode(10), WithGroupGrace(0))
	slow := routerTestSubscribe(t, r, routerTestReq("slow", routerTestLogs("")))
	fast := routerTestSubscribe(t, r, routerTestReq("fast", routerTestLogs("")))
	read := 0
	for i := range 100 {
		require.NoError(t, r.PublishEnvelope(envelope.NewLog("s", []byte(strconv.Itoa(i)))))
		read += len(routerTestDrain(fast))
	}
	assert.Equal(t, 100, read)
	slowRead := len(routerTestDrain(slow))
	st := r.Stats()
	assert.Equal(t, uint64(100), st.Shards["slow"].Egress)
	assert.Equal(t, stats.Drops{CauseOverflow: uint64(100 - slowRead)}, st.Shards["slow"].Dropped, "written == read + dropped")
	assert.Equal(t, ShardStats{Subscriptions: 1, Egress: 100}, st.Shards["fast"])

	// What a subscription holds when it closes is counted as dropped.
	for range 5 {
		require.NoError(t, r.PublishEnvelope(envelope.NewLog("s", nil)))
	}
	require.NoError(t, slow.Close())
	st = r.Stats()
	want := stats.Drops{CauseOverflow: uint64(100 - slowRead), CauseClosed: 5}
	assert.Equal(t, ShardStats{Egress: 105, Dropped: want}, st.Shards["slow"])
	assert.Equal(t, want, st.Dropped)
	assert.Equal(t, uint64(210), st.Egress)
	require.NoError(t, fast.Close())
}

func TestRouterRejects(t *testing.T) {
	r := routerTestNew(t)
	_, err := r.Subscribe(context.Background(), &envelope.EgressBatchRequest{})
	require.ErrorIs(t, err, envelope.ErrNoSelectors)
	_, err = r.Subscribe(context.Background(), &envelope.EgressBatchRequest{Selectors: []*envelope.Selector{{SourceId: "x"}}})
	require.ErrorIs(t, err, envelope.ErrSelectorWithoutMessage)
	// The legacy selector counts when selectors is empty.
	s, err := r.Subscribe(context.Background(), &envelope.EgressBatchRequest{LegacySelector: routerTestLogs("")})
	require.NoError(t, err)
	require.NoError(t, s.Close())

	err = r.Publish([]byte{0xff, 0xff})
	require.ErrorIs(t, err, envelope.ErrMalformed)
	st := r.Stats()
	assert.Equal(t, uint64(2), st.RejectedStreams)
	assert.Equal(t, uint64(1), st.Malformed)
	assert.Equal(t, uint64(0), st.Ingress)

	_, err = NewRouter(WithSubscriptionDiode(0))
	require.ErrorIs(t, err, diode.ErrInvalidSize)
}

func TestRouterCloseAndShutdown(t *testing.T) {
	r := routerTestNew(t)
	s := routerTestSubscribe(t, r, routerTestReq("", routerTestLogs("")))
	require.NoError(t, r.PublishEnvelope(envelope.NewLog("s", nil)))
	go func() {
		// The subscriber reads what is left; Shutdown waits for it.
		_, _ = s.Next(context.Background())
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, r.Shutdown(ctx))
	require.NoError(t, r.Shutdown(ctx), "twice")
	require.NoError(t, r.Close())
	require.ErrorIs(t, r.PublishEnvelope(envelope.NewLog("s", nil)), ErrRouterClosed)
	_, err := r.Subscribe(context.Background(), routerTestReq("", routerTestLogs("")))
	require.ErrorIs(t, err, ErrRouterClosed)
	st := r.Stats()
	assert.Equal(t, ShardStats{Egress: 1}, st.Shards[""])

	// Shutdown gives up when ctx ends while a subscriber does not read.
	r2 := routerTestNew(t)
	routerTestSubscribe(t, r2, routerTestReq("", routerTestLogs("")))
	require.NoError(t, r2.PublishEnvelope(envelope.NewLog("s", nil)))
	ctx2, cancel2 := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel2()
	require.ErrorIs(t, r2.Shutdown(ctx2), context.DeadlineExceeded)
	assert.Equal(t, ShardStats{Egress: 1, Dropped: stats.Drops{CauseClosed: 1}}, r2.Stats().Shards[""])
}

func TestRouterRun(t *testing.T) {
	r := routerTestNew(t, WithSubscriptionChannel(1000))
	s := routerTestSubscribe(t, r, routerTestReq("", routerTestLogs("")))
	in, err := diode.NewOneToOne[[]byte](1000)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx, in) }()
	for range 50 {
		in.Set(routerTestMarshal(t, envelope.NewLog("s", nil)))
	}
	in.Set([]byte{0xff}) // malformed: counted and skipped
	require.Eventually(t, func() bool { return r.Stats().Ingress+r.Stats().Malformed == 51 }, 10*time.Second, time.Millisecond)
	cancel()
	require.ErrorIs(t, <-done, context.Canceled)
	assert.Len(t, routerTestDrain(s), 50)
	assert.Equal(t, uint64(1), r.Stats().Malformed)
}

// Run on a closed router takes one envelope, cannot publish it and counts
// it discarded; the rest stays in the buffer for its owner to count.
func TestRouterRunCountsWhatItCannotPublish(t *testing.T) {
	r := routerTestNew(t)
	in, err := diode.NewOneToOne[[]byte](1000)
	require.NoError(t, err)
	for range 3 {
		in.Set(routerTestMarshal(t, envelope.NewLog("s", nil)))
	}
	require.NoError(t, r.Close())
	require.ErrorIs(t, r.Run(context.Background(), in), ErrRouterClosed)
	st := r.Stats()
	assert.Equal(t, uint64(1), st.Discarded)
	assert.Zero(t, st.Ingress)
	b := in.Stats()
	assert.Equal(t, uint64(2), b.Written-b.Read-b.Dropped, "left in the buffer")
}

// TestRouterChurn subscribes and unsubscribes while two goroutines publish
// at full rate; run it with -race. At the end every copy handed to a
// subscription was either read or counted as dropped.
func TestRouterChurn(t *testing.T) {
	r := routerTestNew(t, WithSubscriptionDiode(64), WithGroupGrace(0))
	env := routerTestMarshal(t, envelope.NewLog("app", []byte("x")))
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var published atomic.Uint64
	for range 2 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				if err := r.Publish(env); err != nil {
					t.Error(err)
					return
				}
				published.Add(1)
			}
		})
	}
	var read atomic.Uint64
	var churn sync.WaitGroup
	for w := range 4 {
		churn.Go(func() {
			for i := range 200 {
				shard := fmt.Sprintf("shard-%d", (w+i)%3)
				if i%4 == 0 {
					shard = ""
				}
				src := ""
				if i%2 == 0 {
					src = "app"
				}
				s, err := r.Subscribe(context.Background(), routerTestReq(shard, routerTestLogs(src)))
				if err != nil {
					t.Error(err)
					return
				}
				// Let a publish that began after Subscribe returned finish
				// (two publishers: at most two were in flight before), so
				// that every subscription gets something whatever the
				// scheduler does.
				mark := published.Load()
				for published.Load() < mark+3 {
					runtime.Gosched()
				}
				read.Add(uint64(len(routerTestDrain(s))))
				read.Add(uint64(len(routerTestDrain(s))))
				_ = s.Close()
			}
		})
	}
	churn.Wait()
	close(stop)
	wg.Wait()
	st := r.Stats()
	assert.Equal(t, 0, st.Subscriptions)
	assert.Equal(t, published.Load(), st.Ingress)
	assert.Equal(t, st.Egress, read.Load()+st.Dropped.Total(), "egress == read + dropped")
	assert.GreaterOrEqual(t, st.Egress, uint64(4*200), "each subscription got at least one copy")
}

// The router's books close: every envelope published is routed to at
// least one subscription or counted unrouted, whatever the selectors.
func TestRouterBooksClose(t *testing.T) {
	r := routerTestNew(t)
	require.NoError(t, r.PublishEnvelope(envelope.NewLog("app", nil)), "no subscription at all")
	counterA := routerTestSubscribe(t, r, routerTestReq("", routerTestCounters("app", "a")))
	// One group whose members select differently (no uniform match).
	g1 := routerTestSubscribe(t, r, routerTestReq("G", routerTestLogs("app")))
	g2 := routerTestSubscribe(t, r, routerTestReq("G", routerTestCounters("", "b")))
	timers := routerTestSubscribe(t, r, routerTestReq("", &envelope.Selector{SourceId: "app", Message: &envelope.Selector_Timer{Timer: &envelope.TimerSelector{}}}))
	now := time.Now()
	for _, e := range []*envelope.Envelope{
		envelope.NewCounter("app", "a", 1),        // counterA
		envelope.NewCounter("app", "b", 1),        // g2
		envelope.NewCounter("other", "c", 1),      // nobody
		envelope.NewGauge("x", nil),               // nobody
		envelope.NewTimer("app", "t", now, now),   // timers
		envelope.NewTimer("other", "t", now, now), // nobody
		envelope.NewEvent("e", "title", "body"),   // nobody
		envelope.NewLog("app", nil),               // g1
		envelope.NewLog("other", nil),             // nobody
	} {
		require.NoError(t, r.PublishEnvelope(e))
	}
	require.ErrorIs(t, r.Publish([]byte{0xff}), envelope.ErrMalformed)
	require.NoError(t, g1.Close())
	require.NoError(t, r.PublishEnvelope(envelope.NewLog("app", nil)), "g1 left: nobody")
	st := r.Stats()
	assert.Equal(t, uint64(11), st.Ingress)
	assert.Equal(t, uint64(4), st.Routed)
	assert.Equal(t, uint64(7), st.Unrouted)
	assert.Equal(t, uint64(1), st.Malformed)
	assert.Equal(t, st.Ingress, st.Routed+st.Unrouted)
	for _, s := range []Subscription{counterA, g2, timers} {
		assert.Len(t, routerTestDrain(s), 1)
	}
}

// A subscriber that stalls shows its shard's overflow while it happens,
// and what was overwritten stays overflow when the subscription closes
// (only what the buffer still held counts as closed).
func TestRouterOverflowVisibleWhileStalled(t *testing.T) {
	r := routerTestNew(t, WithSubscriptionDiode(10), WithGroupGrace(0))
	stalled := routerTestSubscribe(t, r, routerTestReq("stalled", routerTestLogs("")))
	for range 3 {
		require.NoError(t, r.PublishEnvelope(envelope.NewLog("s", nil)))
	}
	assert.Len(t, routerTestDrain(stalled), 3)
	for range 100 {
		require.NoError(t, r.PublishEnvelope(envelope.NewLog("s", nil)))
	}
	// 103 written, 3 read, 10 still held: 90 overwritten, before any read.
	st := r.Stats()
	assert.Equal(t, ShardStats{Subscriptions: 1, Egress: 103, Dropped: stats.Drops{CauseOverflow: 90}}, st.Shards["stalled"])
	require.NoError(t, stalled.Close())
	st = r.Stats()
	assert.Equal(t, ShardStats{Egress: 103, Dropped: stats.Drops{CauseOverflow: 90, CauseClosed: 10}}, st.Shards["stalled"])
}

// A shard group outlives its last member: a member that comes back within
// the grace period continues from the group's buffer; what overflowed
// meanwhile is counted under the shard ID; when the period ends with nobody
// back, what the buffer held is counted no_subscriber and the state is
// freed.
func TestRouterGroupGrace(t *testing.T) {
	r := routerTestNew(t, WithSubscriptionDiode(10), WithGroupGrace(time.Hour))
	var envs [][]byte
	for i := range 38 {
		envs = append(envs, routerTestMarshal(t, envelope.NewLog("s", []byte(strconv.Itoa(i)))))
	}
	log := func(i int) []byte { return envs[i] }
	a := routerTestSubscribe(t, r, routerTestReq("A", routerTestLogs("")))
	for i := range 5 {
		require.NoError(t, r.Publish(log(i)))
	}
	assert.Len(t, routerTestDrain(a), 5)
	require.NoError(t, a.Close())
	for i := 5; i < 12; i++ {
		require.NoError(t, r.Publish(log(i)))
	}
	st := r.Stats()
	assert.Equal(t, uint64(12), st.Routed, "routed to the waiting group, not unrouted")
	assert.Equal(t, ShardStats{Egress: 12}, st.Shards["A"])
	assert.Equal(t, 0, st.Subscriptions)

	// Back within the period: continues from the buffer, in order.
	a2 := routerTestSubscribe(t, r, routerTestReq("A", routerTestLogs("")))
	got := routerTestDrain(a2)
	require.Len(t, got, 7)
	assert.Equal(t, log(5), got[0])
	assert.Equal(t, ShardStats{Subscriptions: 1, Egress: 12}, r.Stats().Shards["A"])

	// Gone again, and 25 more while nobody reads: 10 kept, 15 overflow,
	// counted as they happen.
	require.NoError(t, a2.Close())
	for i := 12; i < 37; i++ {
		require.NoError(t, r.Publish(log(i)))
	}
	assert.Equal(t, ShardStats{Egress: 37, Dropped: stats.Drops{CauseOverflow: 15}}, r.Stats().Shards["A"])
	assert.Len(t, r.parked, 1)

	// The period ends: the 10 held are counted no_subscriber, state freed.
	r.mu.Lock()
	p := r.parked["A"]
	r.mu.Unlock()
	r.expire(p)
	st = r.Stats()
	assert.Equal(t, ShardStats{Egress: 37, Dropped: stats.Drops{CauseOverflow: 15, CauseNoSubscriber: 10}}, st.Shards["A"])
	assert.Empty(t, r.parked)
	assert.Empty(t, r.groups)
	require.NoError(t, r.Publish(log(37)))
	assert.Equal(t, uint64(1), r.Stats().Unrouted)
}

// The grace period ends by itself, and Close frees a waiting group at once,
// counting what it held as closed.
func TestRouterGroupGraceEnds(t *testing.T) {
	r := routerTestNew(t, WithGroupGrace(50*time.Millisecond))
	a := routerTestSubscribe(t, r, routerTestReq("A", routerTestLogs("")))
	require.NoError(t, a.Close())
	require.NoError(t, r.PublishEnvelope(envelope.NewLog("s", nil)))
	require.Eventually(t, func() bool {
		return r.Stats().Shards["A"].Dropped[CauseNoSubscriber] == 1
	}, 10*time.Second, time.Millisecond)

	r2 := routerTestNew(t, WithGroupGrace(time.Hour))
	b := routerTestSubscribe(t, r2, routerTestReq("B", routerTestLogs("")))
	require.NoError(t, b.Close())
	require.NoError(t, r2.PublishEnvelope(envelope.NewLog("s", nil)))
	require.NoError(t, r2.Close())
	assert.Equal(t, ShardStats{Egress: 1, Dropped: stats.Drops{CauseClosed: 1}}, r2.Stats().Shards["B"])
}
