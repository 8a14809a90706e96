package examples_test

import (
	"syscall"
	"testing"
	"time"

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
	// keepalive broke (stream mode), and what the routers read from a
	// subscription but could not send when the proxy's stream broke.
	bound := l.agentUnconfirmed
	for _, s := range l.perShard {
		bound = max(bound, l.agentUnconfirmed+s.drops["router_egress/stream_broken"])
	}
	l.check(t, "stalled router/"+mode, recover, true, bound)
}
