package main

import (
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sluicelog/sluice/examples/internal/cli"
)

func TestPlanRouter(t *testing.T) {
	// The defaults: gRPC and gateway streams, 1,000 shard groups: 3,145
	// slots each (201 MB for all 2,000), 16,788 bytes of reserve each (34
	// MB), 34 MB of pool, 603,840 bytes at most for one subscription (3,145
	// envelopes of 192 bytes).
	p, err := planRouter(defaultBudget, 1000, 1000, 0, 128<<10)
	require.NoError(t, err)
	assert.Equal(t, routerPlan{Ingress: 128 * cli.MiB, Slots: 3145, Reserve: 16788, Pool: 33579456, Subscription: 603840, Buffers: 2000, MaxMessage: 10 << 20, MaxEnvelope: 128 << 10}, p)
	// Slots, reserves, pool and ingress together stay at three quarters.
	assert.LessOrEqual(t, p.Ingress+p.Pool+(int64(p.Slots)*slotBytes+p.Reserve)*int64(p.Buffers), defaultBudget/4*3)
	// Without a gateway: 4,194 slots.
	p, err = planRouter(defaultBudget, 500, 1000, 0, 128<<10)
	require.NoError(t, err)
	assert.Equal(t, routerPlan{Ingress: 128 * cli.MiB, Slots: 4194, Reserve: 22374, Pool: 33562456, Subscription: 805248, Buffers: 1500, MaxMessage: 10 << 20, MaxEnvelope: 128 << 10}, p)

	// A small budget: smaller messages, 16,384 slots at most, a reserve
	// and a quarter of the pool for one subscription.
	p, err = planRouter(64*cli.MiB, 40, 20, 0, 128<<10)
	require.NoError(t, err)
	assert.Equal(t, routerPlan{Ingress: 16 * cli.MiB, Slots: 13107, Reserve: 69908, Pool: 4194512, Subscription: 69908 + 4194512/4, Buffers: 60, MaxMessage: 2 << 20, MaxEnvelope: 128 << 10}, p)
	p, err = planRouter(64*cli.MiB, 4, 2, 0, 64<<20)
	require.NoError(t, err)
	assert.Equal(t, maxSubscriptionSlots, p.Slots)
	assert.Equal(t, 32*cli.MiB-int64(maxSubscriptionSlots*slotBytes*6), p.Pool+p.Reserve*6)
	assert.Equal(t, int64(maxSubscriptionSlots*lapGuardBytes), p.Subscription)
	assert.Equal(t, maxSubscriptionSlots*lapGuardBytes, p.MaxEnvelope) // cut to one subscription's bound

	// Slots asked for: kept if they fit three eighths, else refused.
	p, err = planRouter(defaultBudget, 1000, 1000, 1000, 128<<10)
	require.NoError(t, err)
	assert.Equal(t, 1000, p.Slots)
	assert.Equal(t, int64(256*cli.MiB-1000*slotBytes*2000), p.Pool+p.Reserve*2000)
	assert.Equal(t, int64(1000*lapGuardBytes), p.Subscription)
	_, err = planRouter(defaultBudget, 1000, 1000, 4000, 128<<10)
	assert.ErrorContains(t, err, "lower -subscription-buffer")

	_, err = planRouter(32*cli.MiB, 1000, 1000, 0, 128<<10)
	assert.ErrorContains(t, err, "raise -memory-budget")
}

// TestSlotBytes checks slotBytes against a diode slot's layout: a sequence
// word and a slice header.
func TestSlotBytes(t *testing.T) {
	var slot struct {
		word uint64
		val  []byte
	}
	assert.Equal(t, uintptr(slotBytes), unsafe.Sizeof(slot))
}
