package forward

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sluicelog/sluice/discovery"
	"github.com/sluicelog/sluice/internal/testtls"
)

// Routers in z1 and z2, the pool in z1: all streams on z1; the z1 routers
// stop: traffic moves to z2, drops counted; a z1 router comes back on the
// same address: the streams come back to z1.
func TestPoolZonePreference(t *testing.T) {
	_, serverTLS, clientTLS := testtls.Must(t)
	z1 := []*poolTestRouter{poolStartRouter(t, "z1", serverTLS, true), poolStartRouter(t, "z1", serverTLS, true)}
	z2 := []*poolTestRouter{poolStartRouter(t, "z2", serverTLS, true), poolStartRouter(t, "z2", serverTLS, true)}
	all := append(append([]*poolTestRouter{}, z1...), z2...)
	h := poolNewHarness(t, discovery.NewStatic(poolEndpoints(all...)...), poolTestOptions(clientTLS, WithZone("z1"))...)
	require.Eventually(t, func() bool { return h.pool.Stats().StreamsByZone["z1"] == 5 }, 20*time.Second, 10*time.Millisecond)
	h.startSending(50, 5*time.Millisecond)
	require.Eventually(t, func() bool { return poolRouterEnvs(z1...) > 2000 }, 20*time.Second, 10*time.Millisecond)
	assert.Zero(t, poolRouterEnvs(z2...), "no traffic to another zone while the local one works")
	st := h.pool.Stats()
	assert.Equal(t, 5, st.Streams)
	assert.Equal(t, 2, len(st.StreamsByRouter), "both z1 routers carry streams")

	for _, r := range z1 {
		r.Crash()
	}
	require.Eventually(t, func() bool { return h.pool.Stats().StreamsByZone["z2"] == 5 }, 20*time.Second, 10*time.Millisecond)
	mark := poolRouterEnvs(z2...)
	require.Eventually(t, func() bool { return poolRouterEnvs(z2...) > mark+2000 }, 20*time.Second, 10*time.Millisecond)

	require.NoError(t, z1[0].Restart()) // same address
	require.Eventually(t, func() bool { return h.pool.Stats().StreamsByZone["z1"] == 5 }, 20*time.Second, 10*time.Millisecond)
	mark = z1[0].Count()
	require.Eventually(t, func() bool { return z1[0].Count() > mark+2000 }, 20*time.Second, 10*time.Millisecond)

	fs, ps := h.finish()
	unique, dups := poolUnique(all...)
	assert.Zero(t, dups)
	assert.LessOrEqual(t, unique, int(fs.Egress))
	assert.LessOrEqual(t, fs.Egress-uint64(unique), ps.Unconfirmed, "uncounted loss bounded by what was in flight")
	t.Logf("sent %d, delivered %d, dropped %v, unconfirmed %d, lost %d", h.sent.Load(), unique, fs.Dropped, ps.Unconfirmed, fs.Egress-uint64(unique))
}

// Five routers and a steady send: each gets 10-30%; a sixth added through
// discovery gets traffic at once, long before any recycle.
func TestPoolBalance(t *testing.T) {
	_, serverTLS, clientTLS := testtls.Must(t)
	var rs []*poolTestRouter
	for range 5 {
		rs = append(rs, poolStartRouter(t, "z1", serverTLS, false))
	}
	src := discovery.NewStatic(poolEndpoints(rs...)...)
	// Recycling would move streams too: an hour keeps it out of the test,
	// so only the pool's answer to the discovery change can move one.
	const recycle = time.Hour
	h := poolNewHarness(t, src, poolTestOptions(clientTLS, WithZone("z1"), WithRecycle(recycle))...)
	require.Eventually(t, func() bool { return len(h.pool.Stats().StreamsByRouter) == 5 }, time.Minute, 10*time.Millisecond)
	assert.Equal(t, map[string]int{"z1": 5}, h.pool.Stats().StreamsByZone)
	h.startSending(50, 2*time.Millisecond)
	require.Eventually(t, func() bool { return poolRouterEnvs(rs...) >= 30000 }, 2*time.Minute, 10*time.Millisecond)
	total := float64(poolRouterEnvs(rs...))
	for i, r := range rs {
		share := float64(r.Count()) / total
		assert.True(t, share >= 0.10 && share <= 0.30, "router %d got %.1f%%", i, 100*share)
	}

	recyclesBefore := h.pool.Stats().Recycles
	sixth := poolStartRouter(t, "z1", serverTLS, false)
	added := time.Now()
	src.Set(poolEndpoints(append(rs, sixth)...)...)
	// At once means within seconds (the bound only stops a hang), far below
	// the recycle interval.
	require.Eventually(t, func() bool { return sixth.Count() > 0 }, 20*time.Second, 5*time.Millisecond,
		"the router added through discovery got no stream")
	require.Eventually(t, func() bool { return h.pool.Stats().Recycles == recyclesBefore+1 }, 20*time.Second, 5*time.Millisecond,
		"one stream moved for the new router")
	t.Logf("sixth router got traffic %v after it was added (recycle interval %v)", time.Since(added), recycle)
	h.finish()
}

// A router's connections are reset while it stays up: the pool notices and
// reconnects. Acknowledged mode: nothing is lost uncounted. Streaming mode:
// the uncounted loss is bounded by what was in flight.
func TestPoolConnectionReset(t *testing.T) {
	for _, mode := range poolModes {
		t.Run(mode.String(), func(t *testing.T) {
			_, serverTLS, clientTLS := testtls.Must(t)
			rs := []*poolTestRouter{
				poolStartRouter(t, "", serverTLS, true),
				poolStartRouter(t, "", serverTLS, true),
			}
			h := poolNewHarness(t, discovery.NewStatic(poolEndpoints(rs...)...), poolTestOptions(clientTLS, WithMode(mode))...)
			h.startSending(100, 2*time.Millisecond)
			for i := range 5 {
				mark := rs[0].Count()
				require.Eventually(t, func() bool { return rs[0].Count() > mark+1000 }, 20*time.Second, 5*time.Millisecond, "reset %d", i)
				rs[0].ResetConnections()
			}
			require.Eventually(t, func() bool { return h.pool.Stats().Connects > 5 }, 20*time.Second, 5*time.Millisecond)
			fs, ps := h.finish()
			unique, dups := poolUnique(rs...)
			t.Logf("%s: sent %d, delivered %d (+%d duplicates), dropped %v, failures %d, retries %d, unconfirmed %d, connects %d",
				mode, h.sent.Load(), unique, dups, fs.Dropped, ps.Failures, ps.Retries, ps.Unconfirmed, ps.Connects)
			assert.Greater(t, ps.Connects, uint64(5), "the pool reconnected")
			if mode == Acknowledged {
				assert.Zero(t, ps.Unconfirmed)
				// sent == delivered + counted drops: every confirmed envelope
				// arrived, and nothing read is missing without a count.
				assert.GreaterOrEqual(t, unique, int(fs.Egress))
				assert.GreaterOrEqual(t, uint64(unique)+fs.Dropped.Total(), fs.Read)
				if len(fs.Dropped) == 0 {
					assert.Equal(t, int(fs.Read), unique)
				}
			} else {
				assert.Zero(t, dups)
				assert.LessOrEqual(t, unique, int(fs.Egress))
				assert.LessOrEqual(t, fs.Egress-uint64(unique), ps.Unconfirmed, "uncounted loss bounded by what was in flight")
			}
		})
	}
}

// A router closed abruptly: the pool counts what it could not deliver.
func TestPoolRouterClosedAbruptly(t *testing.T) {
	for _, mode := range poolModes {
		t.Run(mode.String(), func(t *testing.T) {
			_, serverTLS, clientTLS := testtls.Must(t)
			r := poolStartRouter(t, "", serverTLS, true)
			h := poolNewHarness(t, discovery.NewStatic(r.endpoint()), poolTestOptions(clientTLS, WithMode(mode), WithWait(100*time.Millisecond))...)
			h.startSending(100, 2*time.Millisecond)
			require.Eventually(t, func() bool { return r.Count() > 5000 }, 20*time.Second, 5*time.Millisecond)
			r.Crash()
			require.Eventually(t, func() bool { return h.pool.Stats().Dropped[CauseUnreachable] > 1000 }, 20*time.Second, 5*time.Millisecond)
			assert.Zero(t, h.pool.Stats().Streams)
			fs, ps := h.finish()
			unique, _ := poolUnique(r)
			t.Logf("%s: sent %d, delivered %d, dropped %v, unconfirmed %d", mode, h.sent.Load(), unique, fs.Dropped, ps.Unconfirmed)
			// A batch the router took but never confirmed counts as dropped:
			// the books may overstate loss, never understate it.
			assert.LessOrEqual(t, unique, int(fs.Read))
			if mode == Acknowledged {
				assert.GreaterOrEqual(t, unique, int(fs.Egress))
			} else {
				assert.LessOrEqual(t, fs.Egress-uint64(unique), ps.Unconfirmed)
			}
		})
	}
}

// A router stopping gracefully (GOAWAY, then waiting for its streams): the
// pool closes its streams to it on purpose, the router reads them to the
// end and confirms them, and the streams move to the other router. The stop
// ends within seconds and nothing is lost or unconfirmed.
func TestPoolRouterGracefulStop(t *testing.T) {
	_, serverTLS, clientTLS := testtls.Must(t)
	rs := []*poolTestRouter{
		poolStartRouter(t, "", serverTLS, false),
		poolStartRouter(t, "", serverTLS, false),
	}
	h := poolNewHarness(t, discovery.NewStatic(poolEndpoints(rs...)...), poolTestOptions(clientTLS)...)
	h.startSending(100, 2*time.Millisecond)
	require.Eventually(t, func() bool { return rs[0].Count() > 1000 && rs[1].Count() > 1000 }, 20*time.Second, 5*time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	require.NoError(t, rs[0].Shutdown(ctx), "the pool closes its streams, so the stop does not wait for the deadline")
	took := time.Since(start)
	mark := rs[1].Count()
	require.Eventually(t, func() bool { return rs[1].Count() > mark+1000 }, 20*time.Second, 5*time.Millisecond)
	fs, ps := h.finish()
	t.Logf("stop took %v; sent %d, routers %d + %d, unconfirmed %d, failures %d", took, h.sent.Load(), rs[0].Count(), rs[1].Count(), ps.Unconfirmed, ps.Failures)
	assert.Zero(t, ps.Unconfirmed)
	assert.Zero(t, fs.Dropped.Total())
	assert.Equal(t, uint64(h.sent.Load()), fs.Egress)
	assert.Equal(t, fs.Egress, rs[0].Count()+rs[1].Count(), "every envelope sent arrived")
}
