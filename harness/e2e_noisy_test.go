package harness_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sluicelog/sluice/harness"
	"github.com/sluicelog/sluice/limit"
)

// Issue 16, acceptance: over a real agent and router (mutual TLS over
// loopback), one source offering ten times the router's capacity (200
// envelopes a round, fixed by the router's gate) and 99 steady sources at
// half of it, for 11 rounds (1,089 steady envelopes: 0.1 % of them is one
// envelope). With the fair policy the steady sources lose under 0.1 %
// (none, in fact), the noisy one is cut back to what is left, and the
// heavy-hitter summary names it first; with the ring the steady sources
// lose about as much as the noisy one. Every phase ends on a condition
// (harness.RunNoisy), so the outcome does not depend on the machine.
func TestE2ENoisyNeighbourFairVersusRing(t *testing.T) {
	testNoisyFairVersusRing(t, 0)
}

// The same with the router's ingress streams waiting for room (at most
// 20 ms a batch) before they take in what the full buffer would drop: the
// agent's stream is held back and then let in, and the fair buffer still
// decides whom to drop. The outcome is the same.
func TestE2ENoisyNeighbourFairVersusRingWaitWhenFull(t *testing.T) {
	testNoisyFairVersusRing(t, 20*time.Millisecond)
}

func testNoisyFairVersusRing(t *testing.T, wait time.Duration) {
	run := func(p limit.Policy) harness.NoisyResult {
		ctx, cancel := context.WithTimeout(context.Background(), e2eWait)
		defer cancel()
		r, err := harness.RunNoisy(ctx, harness.NoisyConfig{Policy: p, WaitWhenFull: wait})
		require.NoError(t, err) // RunNoisy checks the books close exactly
		t.Logf("%s: steady lost %d of %d (%.3f %%), noisy delivered %d of %d; the router's ingress waited %d times, %d till the bound", p, r.OfferedSteady-r.DeliveredSteady, r.OfferedSteady,
			100*r.SteadyLoss(), r.DeliveredNoisy, r.OfferedNoisy, r.RouterWaits, r.RouterWaitTimeouts)
		if wait == 0 || p == limit.PolicyRing {
			assert.Zero(t, r.RouterWaits, "only the fair buffer with the option is waited on")
		}
		assert.Equal(t, uint64(11*2000), r.OfferedNoisy)
		assert.Equal(t, uint64(11*99), r.OfferedSteady)
		return r
	}
	fair, ring := run(limit.PolicyFair), run(limit.PolicyRing)

	assert.Less(t, fair.SteadyLoss(), 0.001, "fair: steady sources must lose under 0.1 %")
	assert.Zero(t, fair.OfferedSteady-fair.DeliveredSteady, "fair: in fact they lose nothing")
	assert.Greater(t, fair.NoisyLoss(), 0.8, "fair: the noisy source is cut back")
	assert.Equal(t, fair.OfferedNoisy+fair.OfferedSteady, fair.DeliveredNoisy+fair.DeliveredSteady+fair.RouterDropped)
	snap := fair.Summary
	require.NotEmpty(t, snap.Sent)
	require.NotEmpty(t, snap.Dropped)
	assert.Equal(t, limit.SourceCount{SourceID: harness.NoisySource, Count: fair.OfferedNoisy}, snap.Sent[0], "the summary names the noisy source first")
	assert.Equal(t, limit.SourceCount{SourceID: harness.NoisySource, Count: fair.OfferedNoisy - fair.DeliveredNoisy}, snap.Dropped[0])
	assert.Len(t, snap.Dropped, 1, "no steady source lost anything")

	assert.Greater(t, ring.SteadyLoss(), 0.5, "ring: the steady sources lose with the noisy one")
}
