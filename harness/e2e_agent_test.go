package harness_test

import (
	"context"
	"crypto/tls"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sluicelog/sluice/diode"
	"github.com/sluicelog/sluice/discovery"
	"github.com/sluicelog/sluice/egress/forward"
	"github.com/sluicelog/sluice/harness"
	"github.com/sluicelog/sluice/ingress"
	"github.com/sluicelog/sluice/internal/testtls"
)

// The end-to-end tests emit at a steady e2ePerTick envelopes every e2eTick
// (about 10,000 envelopes/s): enough to keep every stream busy, little enough
// that a loaded 2-core machine running -race keeps up.
const (
	e2ePerTick = 50
	e2eTick    = 5 * time.Millisecond
	e2eWait    = time.Minute // a hang guard: a loaded 2-core machine can take tens of seconds
	// e2eAckInflight bounds what an acknowledged pool has in flight: the
	// agent's 5 streams, egress's default of 4 Send calls in flight per
	// stream, batches of at most 100 envelopes (the Forwarder's default).
	e2eAckInflight = 5 * 4 * 100
)

// e2eModes are the pool's two modes.
var e2eModes = []struct {
	name string
	ack  bool
}{{"streaming", false}, {"acknowledged", true}}

// Issue 5, first acceptance item: envelopes sent with ingress.Client through
// an agent (ingress.Server, diode, Forwarder, Pool) over mutual TLS arrive at
// routers, and every envelope is delivered or counted dropped, exactly, hop
// by hop, in both pool modes.
func TestE2EAgentAccountsForEveryEnvelope(t *testing.T) {
	for _, mode := range e2eModes {
		t.Run(mode.name, func(t *testing.T) {
			_, serverTLS, clientTLS := testtls.Must(t)
			routers := []*harness.Router{
				e2eStartRouter(t, "r1", "z1", serverTLS),
				e2eStartRouter(t, "r2", "z1", serverTLS),
				e2eStartRouter(t, "r3", "z1", serverTLS),
			}
			src := discovery.NewStatic(e2eEndpoints(routers...)...)
			ag := e2eStartAgent(t, src, serverTLS, clientTLS, mode.ack)

			const n = 20000
			em := e2eStartEmitter(t, ag.Addr(), clientTLS, n)
			em.wait()
			b := e2eFinish(t, em, ag, routers...)
			b.check(t, mode.ack, false)
			assert.Equal(t, uint64(n), b.client.Emitted)
			// Nothing broke: the books are exact in both modes.
			assert.Zero(t, b.pool.Unconfirmed)
			assert.Equal(t, b.fwd.Egress, b.routers, "routers received what the agent sent")
			for _, rt := range routers {
				assert.NotZero(t, rt.Ingress.Stats().Ingress, "router %s received nothing", rt.ID)
			}
		})
	}
}

// e2eStartRouter starts a router serving mutual TLS, closed when the test
// ends.
func e2eStartRouter(t *testing.T, id, zone string, serverTLS *tls.Config) *harness.Router {
	t.Helper()
	rt, err := harness.StartRouter(harness.RouterConfig{ID: id, Zone: zone, TLS: serverTLS})
	require.NoError(t, err)
	t.Cleanup(func() { _ = rt.Close() })
	return rt
}

func e2eEndpoints(rs ...*harness.Router) []discovery.Endpoint {
	eps := make([]discovery.Endpoint, len(rs))
	for i, r := range rs {
		eps[i] = r.Endpoint()
	}
	return eps
}

// e2eStartAgent starts an agent in zone z1 serving mutual TLS to emitters
// and dialing routers with clientTLS, closed when the test ends.
func e2eStartAgent(t *testing.T, src discovery.Source, serverTLS, clientTLS *tls.Config, ack bool) *harness.Agent {
	t.Helper()
	ag, err := harness.StartAgent(src, harness.AgentConfig{Zone: "z1", ServerTLS: serverTLS, RouterTLS: clientTLS, Acknowledged: ack})
	require.NoError(t, err)
	t.Cleanup(func() { _ = ag.Close() })
	return ag
}

// e2eEmitter emits BenchEnvelopes through an ingress.Client at a steady pace.
type e2eEmitter struct {
	client *ingress.Client
	stop   chan struct{}
	done   chan struct{}
	once   sync.Once
}

// e2eStartEmitter emits n envelopes (0: until finished) to addr over mutual
// TLS.
func e2eStartEmitter(t *testing.T, addr string, clientTLS *tls.Config, n int) *e2eEmitter {
	t.Helper()
	c, err := ingress.NewClient(addr, ingress.WithTLS(clientTLS))
	require.NoError(t, err)
	e := &e2eEmitter{client: c, stop: make(chan struct{}), done: make(chan struct{})}
	t.Cleanup(func() {
		e.halt()
		_ = c.Close() // a no-op when finished
	})
	go func() {
		defer close(e.done)
		tick := time.NewTicker(e2eTick)
		defer tick.Stop()
		env := harness.BenchEnvelope()
		for sent := 0; n == 0 || sent < n; {
			select {
			case <-e.stop:
				return
			case <-tick.C:
			}
			for i := 0; i < e2ePerTick && (n == 0 || sent < n); i++ {
				c.Emit(env)
				sent++
			}
		}
	}()
	return e
}

// wait waits until a fixed count has been emitted.
func (e *e2eEmitter) wait() { <-e.done }

func (e *e2eEmitter) halt() {
	e.once.Do(func() { close(e.stop) })
	<-e.done
}

// e2eBooks holds every hop's counters once the emitter and the agent have
// stopped.
type e2eBooks struct {
	client   ingress.ClientStats
	agentIn  ingress.ServerStats
	agentBuf diode.Stats
	fwd      forward.ForwarderStats
	pool     forward.PoolStats
	routers  uint64 // Σ router ingress (ingress.Server)
	rbufs    uint64 // Σ router buffer Written
}

// e2eFinish stops the emitter, closes its client gracefully, shuts the agent
// down gracefully and returns the books. Routers stay up: what the pool
// closed gracefully has been answered, so their ingress counts are final.
func e2eFinish(t *testing.T, em *e2eEmitter, ag *harness.Agent, routers ...*harness.Router) e2eBooks {
	t.Helper()
	em.halt()
	ctx, cancel := context.WithTimeout(context.Background(), e2eWait)
	defer cancel()
	require.NoError(t, em.client.Shutdown(ctx), "client shutdown")
	require.NoError(t, ag.Shutdown(ctx), "agent shutdown")
	b := e2eBooks{
		client:   em.client.Stats(),
		agentIn:  ag.Ingress.Stats(),
		agentBuf: ag.Buffer.Stats(),
		fwd:      ag.Forwarder.Stats(),
		pool:     ag.Pool.Stats(),
	}
	for _, rt := range routers {
		b.routers += rt.Ingress.Stats().Ingress
		b.rbufs += rt.Buffer.Stats().Written
	}
	return b
}

// check asserts the identity hop by hop:
//
//	client:    Emitted == Sent + Dropped, Sent == Confirmed (the agent stayed up)
//	agent:     ingress accepted == client Confirmed == buffer Written
//	buffer:    Written == Read + Dropped
//	forwarder: Read == Egress + Σ Dropped, nothing pending; Egress == Pool Sent
//	routers:   Σ ingress == Σ buffer Written;
//	           Σ ingress == Egress (acknowledged);
//	           Egress - Pool Unconfirmed <= Σ ingress <= Egress (streaming)
//
// crashed says a router was closed abruptly while it served. In acknowledged
// mode a Send whose answer the crash cut off after the router had taken the
// batch is retried elsewhere (or counted dropped): the books overstate loss
// by at most what was in flight to the crashed router, and never understate
// it (forward.Pool's doc). check then asserts
// Egress <= Σ ingress <= Egress + e2eAckInflight.
func (b e2eBooks) check(t *testing.T, ack, crashed bool) {
	t.Helper()
	cs := b.client
	assert.Equal(t, cs.Emitted, cs.Sent+cs.Dropped.Total(), "client: emitted == sent + dropped (%+v)", cs.Dropped)
	assert.Equal(t, cs.Sent, cs.Confirmed+cs.Unconfirmed, "client: sent == confirmed + unconfirmed")
	assert.Zero(t, cs.Unconfirmed, "client: the agent stayed up, its answers confirm every stream")
	assert.Equal(t, cs.Confirmed, b.agentIn.Ingress, "agent ingress accepted what the client had confirmed")
	assert.Equal(t, b.agentIn.Ingress, b.agentBuf.Written, "agent ingress wrote every envelope into its buffer")
	assert.Equal(t, b.agentBuf.Written, b.agentBuf.Read+b.agentBuf.Dropped, "agent buffer: written == read + dropped")
	fwdDropped := e2eSum(b.fwd.Dropped)
	assert.Equal(t, b.agentBuf.Read, b.fwd.Read, "forwarder read what the buffer gave")
	assert.Equal(t, b.fwd.Read, b.fwd.Egress+fwdDropped, "forwarder: read == egress + dropped (%v)", e2eNonZero(b.fwd.Dropped))
	assert.Zero(t, b.fwd.Pending)
	assert.Equal(t, b.fwd.Egress, b.pool.Sent, "forwarder egress == pool sent")
	assert.Equal(t, b.routers, b.rbufs, "routers' ingress wrote every envelope into their buffers")
	switch {
	case ack && crashed:
		assert.Zero(t, b.pool.Unconfirmed)
		assert.GreaterOrEqual(t, b.routers, b.fwd.Egress, "acknowledged: loss is never understated")
		assert.LessOrEqual(t, b.routers, b.fwd.Egress+e2eAckInflight, "acknowledged: overstated loss within what was in flight")
	case ack:
		assert.Zero(t, b.pool.Unconfirmed)
		assert.Equal(t, b.fwd.Egress, b.routers, "acknowledged: routers' ingress == forwarder egress")
	default:
		assert.LessOrEqual(t, b.routers, b.fwd.Egress, "streaming: routers got no more than was sent")
		assert.GreaterOrEqual(t, b.routers+b.pool.Unconfirmed, b.fwd.Egress, "streaming: uncounted loss <= pool unconfirmed")
	}
	counted := cs.Dropped.Total() + b.agentBuf.Dropped + fwdDropped
	t.Logf("emitted %d = delivered %d + counted drops %d (client %+v, agent buffer %d, forwarder %v) + uncounted %d (pool unconfirmed %d)",
		cs.Emitted, b.routers, counted, cs.Dropped, b.agentBuf.Dropped, e2eNonZero(b.fwd.Dropped),
		int64(cs.Emitted)-int64(b.routers+counted), b.pool.Unconfirmed)
	if ack && !crashed {
		assert.Equal(t, cs.Emitted, b.routers+counted, "end to end: emitted == delivered + counted drops")
	}
}

func e2eSum(m map[string]uint64) uint64 {
	var n uint64
	for _, v := range m {
		n += v
	}
	return n
}

func e2eNonZero(m map[string]uint64) map[string]uint64 {
	out := map[string]uint64{}
	for k, v := range m {
		if v != 0 {
			out[k] = v
		}
	}
	return out
}
