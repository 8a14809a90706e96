package examples_test

import (
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// faultKeepalive is the agent's and the proxy's keepalive on router
// connections in the stall scenarios: grpc-go's shortest interval (10s) and
// a 1s timeout, so a stalled router is cut off about 11s after it last
// sent anything. The issue measured a 30s stall against 15s+5s; this is the
// same mechanism scaled down as far as grpc-go allows.
var faultKeepalive = []string{"-router-keepalive", "10s", "-router-keepalive-timeout", "1s"}

// faultStall is how long a stalled router stays stopped: longer than
// keepalive needs to cut it off, with room for a loaded machine.
const faultStall = 14 * time.Second

// faultStreamLoss is the most envelopes one broken stream (proxy to a
// nozzle, or a stalled router to the proxy) can take with it uncounted: one HTTP/2 stream window (64 KiB,
// grpc-go's default, which loopback's tiny round trips do not grow) of
// envelopes of at least 40 bytes (loadgen's smallest, a counter).
const faultStreamLoss = 64 << 10 / 40

// TestFaultStalledRouter stops a router (SIGSTOP) for longer than the
// agent's and the proxy's keepalive, so that both cut its connections off,
// then resumes it (SIGCONT), in stream and acknowledged modes. A stalled
// router is a crash for the streams keepalive breaks: what was in flight on
// them may be lost, and must stay within what the programs counted for those
// streams (the agent's unconfirmed, the routers' stream_broken); everything
// else is delivered or counted.
func TestFaultStalledRouter(t *testing.T) {
	for _, mode := range []string{"stream", "ack"} {
		t.Run(mode, func(t *testing.T) { faultStalledRouter(t, mode) })
	}
}

func faultStalledRouter(t *testing.T, mode string) {
	r := newFaultRig(t, mode)
	r.keepalive = faultKeepalive
	r.start()
	r.startLoad(5000, faultStall+6*time.Second)
	time.Sleep(time.Second) //nolint:forbidigo // let traffic flow before the stall
	stalled := r.routers[0].p
	require.NoError(t, stalled.cmd.Process.Signal(syscall.SIGSTOP))
	stopped := time.Now()
	// The proxy's streams to the stalled router end when keepalive cuts
	// its connection: each shard's Firehose keeps only the other router.
	require.Eventually(t, func() bool {
		return r.proxy.metric(t, "doppler_connections", "component", "firehose") == float64(len(r.shards))
	}, faultStall, 20*time.Millisecond, "keepalive never cut the proxy's streams to the stalled router")
	cut := time.Since(stopped).Round(time.Millisecond)
	t.Logf("the proxy cut the stalled router off after %v", cut)
	time.Sleep(faultStall - time.Since(stopped)) //nolint:forbidigo // the rest of the stall
	require.NoError(t, stalled.cmd.Process.Signal(syscall.SIGCONT))
	resumed := time.Now()
	r.recovered(0)
	recover := []time.Duration{cut, time.Since(resumed).Round(time.Millisecond)}
	lg := r.waitLoad()
	nz := r.finish(lg)
	l := r.ledger(lg, nz)
	// The bound: what the agent counted unconfirmed on the streams
	// keepalive broke (stream mode), what the routers read from a
	// subscription but could not send when the proxy's stream broke, and
	// what the stalled router had handed to that stream (counted sent by
	// it) when keepalive cut it: one broken router -> proxy stream per
	// shard, at most faultStreamLoss envelopes each. Not a bound taken from
	// the loss measured.
	bound := l.agentUnconfirmed + faultStreamLoss
	for _, s := range l.perShard {
		bound = max(bound, l.agentUnconfirmed+s.drops["router_egress/stream_broken"]+faultStreamLoss)
	}
	l.check(t, "stalled router/"+mode, recover, true, bound)
}

// TestFaultNozzleCutOff is the 60s nozzle stall, scaled down: one
// nozzle stops (SIGSTOP) for longer than the proxy's keepalive on its
// stream (-keepalive 1s), so the proxy cuts the stream off and its
// subscriptions at the routers end; the shard group waits out its grace
// period (-group-grace 2s) at the routers, counting its overflow, then
// frees its buffer and counts what it held as no_subscriber. The nozzle
// resumes (SIGCONT) and reconnects. Every envelope is delivered or counted
// on every hop but one: the proxy -> nozzle stream keepalive broke is a
// crash for that stream, so what was inside it (sent by the proxy, never
// received) is lost uncounted, within faultStreamLoss per broken stream
// (the nozzle's reconnects). The other shard loses nothing.
func TestFaultNozzleCutOff(t *testing.T) {
	r := newFaultRig(t, "stream")
	r.routerArgs = []string{"-group-grace", "2s"}
	r.proxyArgs = []string{"-keepalive", "1s"}
	r.start()
	r.startLoad(5000, 12*time.Second)
	time.Sleep(time.Second) //nolint:forbidigo // let traffic flow before the stall
	stalled := r.nozzles[0]
	require.NoError(t, stalled.cmd.Process.Signal(syscall.SIGSTOP))
	stopped := time.Now()
	// Keepalive cuts the stalled nozzle's stream: its Firehose closes and
	// only the other shard's subscriptions remain at the proxy.
	require.Eventually(t, func() bool {
		return r.proxy.metric(t, "doppler_connections", "component", "firehose") == float64(len(r.routers))
	}, 15*time.Second, 20*time.Millisecond, "the proxy never cut the stalled nozzle's stream")
	cut := time.Since(stopped).Round(time.Millisecond)
	// The group's grace ends at the routers with no member back.
	require.Eventually(t, func() bool {
		n := 0.0
		for _, x := range r.routers {
			n += x.p.metric(t, "dropped", "component", "router", "shard_id", r.shards[0], "cause", "no_subscriber")
		}
		return n > 0
	}, 15*time.Second, 20*time.Millisecond, "the routers never counted no_subscriber for the departed group")
	graceOver := time.Since(stopped).Round(time.Millisecond)
	require.NoError(t, stalled.cmd.Process.Signal(syscall.SIGCONT))
	resumed := time.Now()
	before := stalled.metric(t, "ingress", "component", "reader")
	require.Eventually(t, func() bool { return stalled.metric(t, "ingress", "component", "reader") > before },
		20*time.Second, 20*time.Millisecond, "the stalled nozzle never read again")
	t.Logf("stream cut %v after SIGSTOP, group grace over %v after SIGSTOP, stalled %v", cut, graceOver, resumed.Sub(stopped).Round(time.Millisecond))
	recover := []time.Duration{time.Since(resumed).Round(time.Millisecond)}
	lg := r.waitLoad()
	nz := r.finish(lg)
	l := r.ledger(lg, nz)
	l.check(t, "nozzle cut off", recover, true, float64(nz[0].Reconnects)*faultStreamLoss)
	assert.Equal(t, l.agentOut, l.routersIn, "agent -> routers: nothing lost")
	s := l.perShard[r.shards[0]]
	assert.Positive(t, s.drops["router/no_subscriber"], "no_subscriber counted end to end")
	assert.Positive(t, s.drops["router/overflow"], "the waiting group's overflow counted end to end")
	assert.Equal(t, uint64(lg.Sent), nz[1].Delivered, "the other shard lost nothing")
}
