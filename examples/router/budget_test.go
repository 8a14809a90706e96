package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sluicelog/sluice/examples/internal/cli"
)

func TestPlanRouter(t *testing.T) {
	// The defaults: gRPC and gateway streams, 1,000 shard groups.
	p, err := planRouter(defaultBudget, 1000, 1000, 128<<10)
	require.NoError(t, err)
	assert.Equal(t, routerPlan{Ingress: 128 * cli.MiB, Subscription: 134217, Buffers: 2000, MaxMessage: 10 << 20, MaxEnvelope: 128 << 10}, p)
	// Buffers, ingress and subscriptions together stay at three quarters.
	assert.LessOrEqual(t, p.Ingress+p.Subscription*int64(p.Buffers), defaultBudget/4*3)

	// A small budget: smaller messages, envelopes cut to a buffer.
	p, err = planRouter(64*cli.MiB, 40, 20, 128<<10)
	require.NoError(t, err)
	assert.Equal(t, routerPlan{Ingress: 16 * cli.MiB, Subscription: 32 * cli.MiB / 60, Buffers: 60, MaxMessage: 2 << 20, MaxEnvelope: 128 << 10}, p)

	_, err = planRouter(32*cli.MiB, 1000, 1000, 128<<10)
	assert.ErrorContains(t, err, "raise -memory-budget")
}
