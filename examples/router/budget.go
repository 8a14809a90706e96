package main

import (
	"fmt"

	"github.com/sluicelog/sluice/examples/internal/cli"
	"github.com/sluicelog/sluice/ingress"
)

// defaultBudget is the router's -memory-budget: a quarter for the ingress
// buffer (10,000 envelopes of up to 12.8 KiB on average), half for the
// subscription buffers (128 KiB each for 500 gRPC streams, 500 gateway
// streams and 1,000 shard groups, so that each holds at least one envelope
// of the largest size routed), a quarter for the rest: connections, batches
// on their way out, the runtime, and the garbage collector's headroom.
const defaultBudget = 512 * cli.MiB

// minSubscriptionBytes is the least a subscription buffer may hold; a
// budget that would give less refuses to start.
const minSubscriptionBytes = 16 * cli.KiB

// routerPlan is how a router divides its memory budget between its
// buffers, in bytes.
type routerPlan struct {
	// Ingress bounds the ingress buffer: a quarter of the budget.
	Ingress int64
	// Subscription bounds each subscription buffer: half the budget,
	// divided by Buffers.
	Subscription int64
	// Buffers is how many subscription buffers may exist at once: one per
	// stream the router serves at most, and one per shard group waiting
	// out its grace period.
	Buffers int
	// MaxMessage is the largest Ingress message (a batch): 10 MiB as in
	// Loggregator, or a 32nd of the budget if that is less.
	MaxMessage int
	// MaxEnvelope is the largest envelope routed: the -max-envelope-bytes
	// asked for, or one subscription buffer if that is less.
	MaxEnvelope int
}

// planRouter divides budget for a router serving at most streams
// subscriptions at once and shards shard groups.
func planRouter(budget int64, streams, shards, maxEnvelope int) (routerPlan, error) {
	p := routerPlan{Ingress: budget / 4, Buffers: streams + shards}
	if p.Buffers < 1 {
		p.Buffers = 1
	}
	p.Subscription = budget / 2 / int64(p.Buffers)
	if p.Subscription < minSubscriptionBytes {
		return p, fmt.Errorf("a memory budget of %s gives %d subscription buffers (%d streams, %d shard groups) %d bytes each, under %s: raise -memory-budget or lower -max-streams, -max-connections or -max-shard-groups",
			cli.FormatBytes(budget), p.Buffers, streams, shards, p.Subscription, cli.FormatBytes(minSubscriptionBytes))
	}
	p.MaxMessage = int(min(int64(ingress.DefaultMaxMessageSize), budget/32))
	p.MaxEnvelope = int(min(int64(maxEnvelope), p.Subscription))
	return p, nil
}
