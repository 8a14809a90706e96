package nozzle_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sluicelog/sluice/diode"
	"github.com/sluicelog/sluice/discovery"
	"github.com/sluicelog/sluice/egress/serve"
	"github.com/sluicelog/sluice/envelope"
	"github.com/sluicelog/sluice/ingress"
	"github.com/sluicelog/sluice/internal/testtls"
	"github.com/sluicelog/sluice/nozzle"
)

// router is a whole sluice router on loopback with mutual TLS:
// ingress.Server -> diode -> serve.Router -> serve.Server. Its counters
// survive restarts (sums over incarnations).
type router struct {
	t                                           testing.TB
	serverTLS                                   *tls.Config
	inAddr, outAddr                             string
	mu                                          sync.Mutex
	in                                          *ingress.Server
	rt                                          *serve.Router
	out                                         *serve.Server
	cancel                                      context.CancelFunc
	runDone                                     chan struct{}
	ingressN, egressN, droppedIn, serverDropped uint64
	shardDropped, shardEgress                   map[string]uint64
}

func startRouter(t testing.TB, serverTLS *tls.Config) *router {
	r := &router{t: t, serverTLS: serverTLS, inAddr: "127.0.0.1:0", outAddr: "127.0.0.1:0",
		shardDropped: map[string]uint64{}, shardEgress: map[string]uint64{}}
	r.startEgress()
	r.startIngress()
	t.Cleanup(r.stop)
	return r
}

// startEgress starts the router and its Egress server (at the old address
// after a stop); startIngress then opens it to agents.
func (r *router) startEgress() {
	rt, err := serve.NewRouter(serve.WithSubscriptionChannel(100000))
	require.NoError(r.t, err)
	out, err := serve.NewServer(rt, serve.WithTLS(r.serverTLS))
	require.NoError(r.t, err)
	var addr interface{ String() string }
	require.Eventually(r.t, func() bool { a, err := out.Start(r.outAddr); addr = a; return err == nil }, 10*time.Second, 50*time.Millisecond)
	r.mu.Lock()
	r.rt, r.out, r.outAddr = rt, out, addr.String()
	r.mu.Unlock()
}

func (r *router) startIngress() {
	buf, err := diode.NewManyToOne[[]byte](10000)
	require.NoError(r.t, err)
	in, err := ingress.NewServer(buf, ingress.WithTLS(r.serverTLS))
	require.NoError(r.t, err)
	var addr interface{ String() string }
	require.Eventually(r.t, func() bool { a, err := in.Start(r.inAddr); addr = a; return err == nil }, 10*time.Second, 50*time.Millisecond)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	r.mu.Lock()
	rt := r.rt
	r.in, r.inAddr, r.cancel, r.runDone = in, addr.String(), cancel, done
	r.mu.Unlock()
	go func() {
		defer close(done)
		rt.Run(ctx, buf)
	}()
}

// stop stops the router abruptly: connections are dropped, what its
// buffers held is discarded and counted.
func (r *router) stop() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.rt == nil {
		return
	}
	if r.in != nil {
		r.in.Close()
		r.cancel()
		<-r.runDone
		st := r.in.Stats()
		r.ingressN += st.Ingress
		r.droppedIn += st.Dropped.Total()
		r.in = nil
	}
	r.out.Close()
	r.rt.Close()
	rs, ss := r.rt.Stats(), r.out.Stats()
	r.egressN += rs.Egress
	r.serverDropped += ss.Dropped.Total()
	for id, s := range rs.Shards {
		r.shardDropped[id] += s.Dropped.Total()
		r.shardEgress[id] += s.Egress
	}
	r.rt = nil
}

func (r *router) subscriptions() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.rt == nil {
		return 0
	}
	return r.rt.Stats().Subscriptions
}

func (r *router) waitSubscriptions(n int) {
	r.t.Helper()
	require.Eventually(r.t, func() bool { return r.subscriptions() == n }, 20*time.Second, 5*time.Millisecond,
		"router %s: want %d subscriptions", r.outAddr, n)
}

// agent emits numbered envelopes to one router with acknowledged Send
// calls.
type agent struct {
	name string
	c    *ingress.Client
	sent int
}

func newAgent(t testing.TB, name, addr string, clientTLS *tls.Config) *agent {
	c, err := ingress.NewClient(addr, ingress.WithTLS(clientTLS), ingress.WithAcknowledged(5*time.Second),
		ingress.WithBatch(100, 5*time.Millisecond), ingress.WithBufferSize(100000), ingress.WithBackoff(10*time.Millisecond, 100*time.Millisecond))
	require.NoError(t, err)
	return &agent{name: name, c: c}
}

func (a *agent) emit(n int) {
	for range n {
		a.c.Emit(envelope.NewLog("src", fmt.Appendf(nil, "%s-%d", a.name, a.sent)))
		a.sent++
	}
}

// consume reads a Firehose into a set of payloads until it is closed.
func consume(f *nozzle.Firehose, got map[string]int, slow time.Duration) func() {
	done := make(chan struct{})
	go func() {
		defer close(done)
		for e, err := range f.Envelopes(context.Background()) {
			if err != nil {
				continue // slow-consumer signals
			}
			got[string(e.GetLog().GetPayload())]++
			if slow > 0 {
				time.Sleep(slow)
			}
		}
	}()
	return func() { <-done }
}

// Two routers, agents sending to both, two nozzle instances sharing shard
// "group" through a Firehose each, one nozzle with shard "solo": the group
// together receives every envelope once, "solo" receives every envelope, and
// counts balance exactly.
func TestFirehoseAcceptanceTwoRoutersShardGroups(t *testing.T) {
	_, serverTLS, clientTLS := testtls.Must(t)
	r1, r2 := startRouter(t, serverTLS), startRouter(t, serverTLS)
	src := discovery.NewStatic(discovery.Endpoint{Addr: r1.outAddr}, discovery.Endpoint{Addr: r2.outAddr})
	newFH := func(shard string) *nozzle.Firehose {
		f, err := nozzle.NewFirehose(src, logRequest(shard), nozzle.WithTLS(clientTLS), nozzle.WithBufferSize(100000))
		require.NoError(t, err)
		return f
	}
	g1, g2, solo := newFH("group"), newFH("group"), newFH("solo")
	r1.waitSubscriptions(3)
	r2.waitSubscriptions(3)
	got1, got2, gotSolo := map[string]int{}, map[string]int{}, map[string]int{}
	waits := []func(){consume(g1, got1, 0), consume(g2, got2, 0), consume(solo, gotSolo, 0)}

	agents := []*agent{
		newAgent(t, "a1", r1.inAddr, clientTLS), newAgent(t, "a2", r2.inAddr, clientTLS),
		newAgent(t, "b1", r1.inAddr, clientTLS), newAgent(t, "b2", r2.inAddr, clientTLS),
	}
	const perAgent = 2500
	var sent uint64
	for _, a := range agents {
		a.emit(perAgent)
	}
	for _, a := range agents {
		require.NoError(t, a.c.Shutdown(testCtx(t)))
		st := a.c.Stats()
		require.Equal(t, uint64(perAgent), st.Confirmed, "acknowledged agent %s: %+v", a.name, st)
		sent += st.Confirmed
	}
	delivered := func(f *nozzle.Firehose) uint64 { return f.Stats().Delivered }
	require.Eventually(t, func() bool {
		return delivered(g1)+delivered(g2) == sent && delivered(solo) == sent
	}, 20*time.Second, 10*time.Millisecond, "group %d+%d solo %d of %d", delivered(g1), delivered(g2), delivered(solo), sent)
	for _, f := range []*nozzle.Firehose{g1, g2, solo} {
		require.NoError(t, f.Shutdown(testCtx(t)))
	}
	for _, w := range waits {
		w()
	}
	r1.stop()
	r2.stop()

	// Every envelope once in the group, once at solo.
	for k := range got1 {
		assert.Zero(t, got2[k], "%s went to both members of the group", k)
	}
	assert.Len(t, gotSolo, int(sent))
	for _, a := range agents {
		for i := range perAgent {
			k := fmt.Sprintf("%s-%d", a.name, i)
			assert.Equal(t, 1, got1[k]+got2[k], k)
			assert.Equal(t, 1, gotSolo[k], k)
		}
	}
	// Exact accounting at every hop: nothing dropped anywhere in this run,
	// and the counters say so.
	assert.Equal(t, sent, r1.ingressN+r2.ingressN)
	assert.Zero(t, r1.droppedIn+r2.droppedIn+r1.serverDropped+r2.serverDropped)
	assert.Zero(t, r1.shardDropped["group"]+r2.shardDropped["group"]+r1.shardDropped["solo"]+r2.shardDropped["solo"])
	gs1, gs2, ss := g1.Stats(), g2.Stats(), solo.Stats()
	assert.Equal(t, sent, gs1.Received+gs2.Received)
	assert.Equal(t, sent, ss.Received)
	assert.Equal(t, sent, gs1.Delivered+gs2.Delivered+gs1.Dropped.Total()+gs2.Dropped.Total())
	assert.Equal(t, sent, ss.Delivered+ss.Dropped.Total())
	assert.Positive(t, gs1.Delivered, "round robin gives each member a share")
	assert.Positive(t, gs2.Delivered, "round robin gives each member a share")
}

// Stop one router abruptly mid-run: the Firehose keeps delivering from the
// other and subscribes again when the router is back at the same address.
// With acknowledged agents every envelope is accounted for except what was
// inside the egress streams that broke, which the test bounds.
func TestFirehoseAcceptanceRouterStopsMidRun(t *testing.T) {
	_, serverTLS, clientTLS := testtls.Must(t)
	r1, r2 := startRouter(t, serverTLS), startRouter(t, serverTLS)
	src := discovery.NewStatic(discovery.Endpoint{Addr: r1.outAddr}, discovery.Endpoint{Addr: r2.outAddr})
	f, err := nozzle.NewFirehose(src, logRequest("s"), nozzle.WithTLS(clientTLS), nozzle.WithBufferSize(200000),
		nozzle.WithBackoff(10*time.Millisecond, 100*time.Millisecond))
	require.NoError(t, err)
	r1.waitSubscriptions(1)
	r2.waitSubscriptions(1)
	got := map[string]int{}
	wait := consume(f, got, 0)

	a1, a2 := newAgent(t, "a1", r1.inAddr, clientTLS), newAgent(t, "a2", r2.inAddr, clientTLS)
	stopEmit := make(chan struct{})
	emitting := make(chan struct{})
	go func() { // a1 keeps emitting through the outage
		defer close(emitting)
		for {
			select {
			case <-stopEmit:
				return
			default:
			}
			a1.emit(20)
			time.Sleep(time.Millisecond)
		}
	}()
	a2.emit(1000)
	require.Eventually(t, func() bool { return f.Stats().Delivered >= 2000 }, 20*time.Second, time.Millisecond)

	r1.stop() // abrupt: mid-run, while a1 sends
	before := f.Stats().Delivered
	a2.emit(1000) // the other router keeps delivering
	require.Eventually(t, func() bool { return f.Stats().Delivered >= before+1000 }, 20*time.Second, time.Millisecond)
	require.Eventually(t, func() bool { return f.Stats().Connected == 1 }, 20*time.Second, time.Millisecond)

	r1Before := streamOf(f, r1.outAddr).Received // fixed: r1's stream is broken
	r1.startEgress()                             // same address; agents are let in once the nozzle is back
	r1.waitSubscriptions(1)
	r1.startIngress()
	a2.emit(1000)
	// a1 sends through the restarted router before it stops emitting.
	require.Eventually(t, func() bool { in, _, _ := r1.live("g"); return in > 0 }, 20*time.Second, time.Millisecond)
	close(stopEmit)
	<-emitting
	require.NoError(t, a1.c.Shutdown(testCtx(t)))
	require.NoError(t, a2.c.Shutdown(testCtx(t)))
	as1, as2 := a1.c.Stats(), a2.c.Stats()
	require.Equal(t, uint64(3000), as2.Confirmed)
	require.Zero(t, as1.Unconfirmed+as2.Unconfirmed, "acknowledged mode leaves nothing unconfirmed")
	require.Equal(t, as1.Emitted, as1.Confirmed+as1.Dropped.Total())
	confirmed := as1.Confirmed + as2.Confirmed

	// Wait until each live router has routed all it accepted, its server
	// has sent all it routed, and the nozzle has received all that was sent
	// on the live streams.
	require.Eventually(t, func() bool {
		in1, routed1, sent1 := r1.live("s")
		in2, routed2, sent2 := r2.live("s")
		return in1 == routed1 && routed1 == sent1 && in2 == routed2 && routed2 == sent2 &&
			streamOf(f, r1.outAddr).Received-r1Before == sent1 && streamOf(f, r2.outAddr).Received == sent2
	}, 20*time.Second, time.Millisecond)
	require.NoError(t, f.Shutdown(testCtx(t)))
	wait()
	r1.stop()
	r2.stop()

	fs := f.Stats()
	assert.GreaterOrEqual(t, fs.Reconnects, uint64(1))
	// Every confirmed envelope reached a router. The abrupt stop may cut the
	// answer to a Send the router had already accepted: the agent then
	// counts that batch dropped (cause "send"), or retries it and the
	// router gets it twice, so the routers may hold more than was
	// confirmed: at most the one call in flight at the cut and its retry,
	// two batches of at most 100. Nothing accepted goes uncounted.
	accepted := r1.ingressN + r2.ingressN
	require.GreaterOrEqual(t, accepted, confirmed)
	require.LessOrEqual(t, accepted-confirmed, uint64(200))
	require.Zero(t, r1.droppedIn+r2.droppedIn)
	// Everything accepted was routed to the subscription (the nozzle was
	// subscribed before agents were let in).
	routed := r1.shardEgress["s"] + r2.shardEgress["s"]
	require.Equal(t, accepted, routed)
	// routed == router drops (discarded at the abrupt stop) + server drops
	// + received by the nozzle + lost inside the broken egress stream.
	counted := r1.shardDropped["s"] + r2.shardDropped["s"] + r1.serverDropped + r2.serverDropped
	require.LessOrEqual(t, fs.Received+counted, routed)
	inFlight := routed - counted - fs.Received
	t.Logf("accepted %d (confirmed %d), nozzle received %d, router discarded %d, server dropped %d, lost in the broken stream %d",
		accepted, confirmed, fs.Received, r1.shardDropped["s"]+r2.shardDropped["s"], r1.serverDropped+r2.serverDropped, inFlight)
	assert.LessOrEqual(t, inFlight, uint64(5000), "bounded by what a broken stream can hold")
	assert.Equal(t, fs.Received, fs.Delivered+fs.Dropped.Total())
	total := 0
	for _, n := range got {
		total += n
	}
	assert.Equal(t, int(fs.Delivered), total)
	// A batch whose answer was cut may have been retried into a router that
	// had it already: duplicates are bounded by the ambiguous sends.
	assert.LessOrEqual(t, total-len(got), int(accepted-confirmed))
	for i := range 3000 {
		assert.Equal(t, 1, got[fmt.Sprintf("a2-%d", i)], "a2-%d from the router that stayed", i)
	}
}

// live returns the current incarnation's accepted, routed (to shard) and
// sent (by the Egress server) counts.
func (r *router) live(shard string) (in, routed, sent uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.in != nil {
		in = r.in.Stats().Ingress
	}
	return in, r.rt.Stats().Shards[shard].Egress, r.out.Stats().Egress
}

func streamOf(f *nozzle.Firehose, addr string) nozzle.StreamStats {
	for _, s := range f.Stats().Streams {
		if s.Addr == addr {
			return s
		}
	}
	return nozzle.StreamStats{}
}

// A deliberately slow consumer gets the slow-consumer signal and its drops
// counted, while a fast consumer on another shard ID loses nothing.
func TestFirehoseAcceptanceSlowConsumer(t *testing.T) {
	_, serverTLS, clientTLS := testtls.Must(t)
	r1, r2 := startRouter(t, serverTLS), startRouter(t, serverTLS)
	src := discovery.NewStatic(discovery.Endpoint{Addr: r1.outAddr}, discovery.Endpoint{Addr: r2.outAddr})
	signals := make(chan *nozzle.SlowConsumerError, 100)
	slow, err := nozzle.NewFirehose(src, logRequest("slow"), nozzle.WithTLS(clientTLS), nozzle.WithBufferSize(100),
		nozzle.WithSlowConsumer(func(e *nozzle.SlowConsumerError) {
			select {
			case signals <- e:
			default:
			}
		}))
	require.NoError(t, err)
	fast, err := nozzle.NewFirehose(src, logRequest("fast"), nozzle.WithTLS(clientTLS), nozzle.WithBufferSize(100000))
	require.NoError(t, err)
	r1.waitSubscriptions(2)
	r2.waitSubscriptions(2)
	gotSlow, gotFast := map[string]int{}, map[string]int{}
	waitSlow := consume(slow, gotSlow, 2*time.Millisecond)
	waitFast := consume(fast, gotFast, 0)

	a1, a2 := newAgent(t, "a1", r1.inAddr, clientTLS), newAgent(t, "a2", r2.inAddr, clientTLS)
	a1.emit(5000)
	a2.emit(5000)
	require.NoError(t, a1.c.Shutdown(testCtx(t)))
	require.NoError(t, a2.c.Shutdown(testCtx(t)))
	sent := a1.c.Stats().Confirmed + a2.c.Stats().Confirmed
	require.Equal(t, uint64(10000), sent)
	require.Eventually(t, func() bool {
		return fast.Stats().Delivered == sent && slow.Stats().Received == sent
	}, 20*time.Second, time.Millisecond)

	var sig *nozzle.SlowConsumerError
	select {
	case sig = <-signals:
	case <-time.After(20 * time.Second):
		t.Fatal("no slow-consumer signal")
	}
	assert.ErrorIs(t, sig, nozzle.ErrSlowConsumer)
	assert.Equal(t, uint64(1), sig.Episode)
	require.NoError(t, slow.Close()) // what it still holds is discarded, counted
	require.NoError(t, fast.Shutdown(testCtx(t)))
	waitSlow()
	waitFast()
	r1.stop()
	r2.stop()

	ss, fs := slow.Stats(), fast.Stats()
	assert.Positive(t, ss.Dropped[nozzle.CauseOverflow])
	assert.GreaterOrEqual(t, ss.SlowConsumerEpisodes, uint64(1))
	assert.Equal(t, sent, ss.Delivered+ss.Dropped.Total())
	assert.Len(t, gotSlow, int(ss.Delivered))
	// The slow nozzle never pushed back on the routers: they dropped
	// nothing for either shard.
	assert.Zero(t, r1.shardDropped["slow"]+r2.shardDropped["slow"])
	assert.Zero(t, r1.shardDropped["fast"]+r2.shardDropped["fast"])
	assert.Equal(t, sent, fs.Delivered)
	assert.Empty(t, fs.Dropped)
	assert.Zero(t, fs.SlowConsumerEpisodes)
	assert.Len(t, gotFast, int(sent))
}
