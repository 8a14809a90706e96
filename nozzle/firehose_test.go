package nozzle_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sluicelog/sluice/discovery"
	"github.com/sluicelog/sluice/egress/egresstest"
	"github.com/sluicelog/sluice/envelope"
	"github.com/sluicelog/sluice/internal/testtls"
	"github.com/sluicelog/sluice/nozzle"
)

// pushSource is a discovery.Source whose states the test pushes, errors
// included (discovery.Static never errs).
type pushSource struct {
	mu   sync.Mutex
	last discovery.State
	subs []chan discovery.State
}

func (p *pushSource) push(st discovery.State) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.last = st
	for _, c := range p.subs {
		select { // coalesce: replace an unread state
		case <-c:
		default:
		}
		c <- st
	}
}

func (p *pushSource) State() discovery.State {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.last
}

func (p *pushSource) Subscribe(ctx context.Context) <-chan discovery.State {
	c := make(chan discovery.State, 1)
	out := make(chan discovery.State)
	p.mu.Lock()
	c <- p.last
	p.subs = append(p.subs, c)
	p.mu.Unlock()
	go func() {
		defer close(out)
		for {
			select {
			case <-ctx.Done():
				return
			case st := <-c:
				select {
				case out <- st:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	return out
}

func ep(r *egresstest.Server) discovery.Endpoint {
	return discovery.Endpoint{ID: r.Addr(), Addr: r.Addr()}
}

// payloads collects n envelopes from next, by source ID, in arrival order.
func collect(t *testing.T, next func(context.Context) ([]byte, error), n int) map[string][]string {
	t.Helper()
	ctx := testCtx(t)
	got := map[string][]string{}
	for range n {
		b, err := next(ctx)
		require.NoError(t, err)
		e, err := decodeEnv(b)
		require.NoError(t, err)
		got[e.GetSourceId()] = append(got[e.GetSourceId()], string(e.GetLog().GetPayload()))
	}
	return got
}

func seqStrings(first, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprint(first + i)
	}
	return out
}

func TestFirehoseMergesEveryRouterOverMutualTLS(t *testing.T) {
	_, serverTLS, clientTLS := testtls.Must(t)
	r1, r2 := startFakeRouter(t, serverTLS), startFakeRouter(t, serverTLS)
	src := discovery.NewStatic(ep(r1), ep(r2))
	f, err := nozzle.NewFirehose(src, logRequest("shard"), nozzle.WithTLS(clientTLS))
	require.NoError(t, err)
	defer f.Close()
	waitSubs(t, r1, 1)
	waitSubs(t, r2, 1)
	go func() {
		for i := range 5 {
			publish(t, r1, seqBatch(t, "r1", i*100, 100))
		}
	}()
	go func() {
		for i := range 5 {
			publish(t, r2, seqBatch(t, "r2", i*100, 100))
		}
	}()
	got := collect(t, f.Next, 1000)
	assert.Equal(t, seqStrings(0, 500), got["r1"]) // each router's order is kept
	assert.Equal(t, seqStrings(0, 500), got["r2"])
	assert.Equal(t, "shard", r1.Requests()[0].GetShardId())
	assert.Equal(t, "shard", r2.Requests()[0].GetShardId())

	require.NoError(t, f.Shutdown(testCtx(t)))
	st := f.Stats()
	assert.Equal(t, uint64(1000), st.Received)
	assert.Equal(t, uint64(1000), st.Delivered)
	assert.Empty(t, st.Dropped)
	require.Len(t, st.Streams, 2)
	for _, s := range st.Streams {
		assert.Equal(t, uint64(500), s.Received, s.Addr)
		assert.Equal(t, uint64(5), s.Batches, s.Addr)
	}
}

func TestFirehoseFollowsDiscovery(t *testing.T) {
	_, serverTLS, clientTLS := testtls.Must(t)
	r1, r2 := startFakeRouter(t, serverTLS), startFakeRouter(t, serverTLS)
	src := &pushSource{}
	src.push(discovery.State{Endpoints: []discovery.Endpoint{ep(r1)}, Confirmed: time.Now()})
	f, err := nozzle.NewFirehose(src, logRequest("s"), nozzle.WithTLS(clientTLS))
	require.NoError(t, err)
	defer f.Close()
	waitSubs(t, r1, 1)
	publish(t, r1, seqBatch(t, "r1", 0, 10))

	// A router that appears is subscribed.
	src.push(discovery.State{Endpoints: []discovery.Endpoint{ep(r1), ep(r2)}, Confirmed: time.Now()})
	waitSubs(t, r2, 1)
	publish(t, r2, seqBatch(t, "r2", 0, 10))

	// An outage (error, empty set) keeps every stream.
	src.push(discovery.State{Err: errors.New("registry down")})
	src.push(discovery.State{Err: discovery.ErrNoEndpoints})
	publish(t, r1, seqBatch(t, "r1", 10, 10))
	publish(t, r2, seqBatch(t, "r2", 10, 10))
	got := collect(t, f.Next, 40)
	assert.Equal(t, seqStrings(0, 20), got["r1"])
	assert.Equal(t, seqStrings(0, 20), got["r2"])
	require.Eventually(t, func() bool { return f.Stats().LastError != nil }, 20*time.Second, time.Millisecond)
	assert.Len(t, f.Stats().Streams, 2)

	// A router that discovery stops listing (from a good state) is read
	// until it ends its stream (a router stopping gracefully deregisters
	// first and ends its streams once their buffers are sent); then it is
	// dropped, not redialed, and its counts stay in the totals.
	src.push(discovery.State{Endpoints: []discovery.Endpoint{ep(r2)}, Confirmed: time.Now()})
	require.Eventually(t, func() bool { return len(f.Stats().Streams) == 1 }, 20*time.Second, time.Millisecond)
	assert.Equal(t, r2.Addr(), f.Stats().Streams[0].Addr)
	assert.Equal(t, 2, f.Stats().Connected, "the deregistered router is still read")
	publish(t, r1, seqBatch(t, "r1", 20, 10))
	got = collect(t, f.Next, 10)
	assert.Equal(t, seqStrings(20, 10), got["r1"], "sent after deregistration, still delivered")
	r1.EndStreams(nil)
	waitSubs(t, r1, 0)
	require.Eventually(t, func() bool { return f.Stats().Connected == 1 }, 20*time.Second, time.Millisecond)
	st := f.Stats()
	require.Len(t, st.Streams, 1)
	assert.Equal(t, uint64(50), st.Received)
	// No reconnect to it.
	time.Sleep(300 * time.Millisecond) //nolint:forbidigo // proving an absence: nothing to wait for
	assert.Zero(t, r1.Subscribers())
	waitSubs(t, r2, 1)
}

// Stop one router abruptly mid-run: the Firehose keeps delivering from the
// other and subscribes again when the router is back at the same address.
func TestFirehoseSurvivesRouterRestart(t *testing.T) {
	_, serverTLS, clientTLS := testtls.Must(t)
	r1, r2 := startFakeRouter(t, serverTLS), startFakeRouter(t, serverTLS)
	f, err := nozzle.NewFirehose(discovery.NewStatic(ep(r1), ep(r2)), logRequest("s"),
		nozzle.WithTLS(clientTLS), nozzle.WithBackoff(10*time.Millisecond, 200*time.Millisecond))
	require.NoError(t, err)
	defer f.Close()
	waitSubs(t, r1, 1)
	waitSubs(t, r2, 1)

	r1.Crash()
	publish(t, r2, seqBatch(t, "r2", 0, 50))
	got := collect(t, f.Next, 50)
	assert.Equal(t, seqStrings(0, 50), got["r2"])
	require.Eventually(t, func() bool { return f.Stats().Connected == 1 }, 20*time.Second, time.Millisecond)

	require.NoError(t, r1.Restart())
	waitSubs(t, r1, 1)
	publish(t, r1, seqBatch(t, "r1", 0, 50))
	got = collect(t, f.Next, 50)
	assert.Equal(t, seqStrings(0, 50), got["r1"])
	st := f.Stats()
	assert.Equal(t, 2, st.Connected)
	assert.GreaterOrEqual(t, st.Reconnects, uint64(1))
	assert.Error(t, st.LastError)
}

func TestFirehoseRejectsBadInput(t *testing.T) {
	_, err := nozzle.NewFirehose(nil, logRequest("s"))
	require.ErrorIs(t, err, nozzle.ErrInvalidConfig)
	_, err = nozzle.NewFirehose(discovery.NewStatic(), &envelope.EgressBatchRequest{})
	require.ErrorIs(t, err, envelope.ErrNoSelectors)
}

func TestFirehoseSubscriberClosesWithContext(t *testing.T) {
	_, serverTLS, clientTLS := testtls.Must(t)
	r1 := startFakeRouter(t, serverTLS)
	subscribe := nozzle.FirehoseSubscriber(discovery.NewStatic(ep(r1)), nozzle.WithTLS(clientTLS))
	ctx, cancel := context.WithCancel(context.Background())
	sub, err := subscribe(ctx, logRequest("proxy"))
	require.NoError(t, err)
	waitSubs(t, r1, 1)
	publish(t, r1, seqBatch(t, "a", 0, 1))
	b, err := sub.Next(testCtx(t))
	require.NoError(t, err)
	e, err := decodeEnv(b)
	require.NoError(t, err)
	assert.Equal(t, "a", e.GetSourceId())
	cancel() // the downstream stream ended
	waitSubs(t, r1, 0)
	_, err = sub.Next(testCtx(t))
	require.ErrorIs(t, err, nozzle.ErrClosed)
	require.NoError(t, sub.Close())

	bad, err := subscribe(context.Background(), &envelope.EgressBatchRequest{})
	require.ErrorIs(t, err, envelope.ErrNoSelectors)
	assert.Nil(t, bad)
}
