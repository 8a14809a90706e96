package main

import (
	"fmt"

	"github.com/sluicelog/sluice/examples/internal/cli"
	"github.com/sluicelog/sluice/ingress"
)

// defaultBudget is the router's -memory-budget: a quarter for the ingress
// buffer (10,000 envelopes of up to 12.8 KiB on average), half for the
// subscription buffers (their diodes' slots, a few bytes each of their
// own and a byte pool all of them share, see planRouter), a quarter for the rest: connections, batches on
// their way out, the runtime, and the garbage collector's headroom.
const defaultBudget = 512 * cli.MiB

// minSubscriptionBytes is the least the subscription half of the budget
// may give each subscription buffer that can exist at once; a budget that
// would give less refuses to start.
const minSubscriptionBytes = 16 * cli.KiB

// slotBytes is what one slot of a subscription's diode costs from the
// moment the subscription opens, whether or not it holds an envelope: a
// sequence word and a slice header (TestSlotBytes checks it).
const slotBytes = 32

// maxSubscriptionSlots and maxSubscriptionBytes bound one subscription
// buffer: 16,384 envelopes, 4 MiB of the shared pool (17,500 log envelopes
// of 239 bytes; 55 ms at 300,000 a second).
const (
	maxSubscriptionSlots = 16384
	maxSubscriptionBytes = 4 * cli.MiB
)

// lapGuardBytes is the envelope size above which a subscription's byte
// bound binds before its slots (the bound is at most Slots*lapGuardBytes):
// a subscriber that falls behind then loses the single envelopes that do
// not fit rather than a whole lap of its ring. A log envelope with a
// 100-byte payload is 239 bytes.
const lapGuardBytes = 192

// routerPlan is how a router divides its memory budget between its
// buffers, in bytes.
type routerPlan struct {
	// Ingress bounds the ingress buffer: a quarter of the budget.
	Ingress int64
	// Slots is each subscription diode's size in envelopes: three eighths
	// of the budget divided over Buffers diodes of slotBytes a slot, at
	// most maxSubscriptionSlots (or -subscription-buffer).
	Slots int
	// Reserve is what each subscription buffer may hold of its own,
	// whatever the pool holds: half of what the half of the budget leaves
	// after the slots (Buffers*Slots*slotBytes), divided over Buffers.
	Reserve int64
	// Pool bounds the wire bytes all subscription buffers hold together
	// beyond their reserves: the other half of what the slots leave.
	Pool int64
	// Subscription bounds one subscription buffer: its reserve and a
	// quarter of Pool, at most maxSubscriptionBytes and Slots*lapGuardBytes,
	// so that a few stalled subscribers cannot take the whole pool while a
	// busy one can ride out a stall of its reader.
	Subscription int64
	// Buffers is how many subscription buffers may exist at once: one per
	// stream the router serves at most, and one per shard group waiting
	// out its grace period.
	Buffers int
	// MaxMessage is the largest Ingress message (a batch): 10 MiB as in
	// Loggregator, or a 32nd of the budget if that is less.
	MaxMessage int
	// MaxEnvelope is the largest envelope routed: the -max-envelope-bytes
	// asked for, or Subscription if that is less.
	MaxEnvelope int
}

// planRouter divides budget for a router serving at most streams
// subscriptions at once and shards shard groups, with diodes of slots
// envelopes (0: as many as the budget allows, see routerPlan.Slots).
func planRouter(budget int64, streams, shards, slots, maxEnvelope int) (routerPlan, error) {
	p := routerPlan{Ingress: budget / 4, Buffers: max(streams+shards, 1)}
	half := budget / 2
	if half/int64(p.Buffers) < minSubscriptionBytes {
		return p, fmt.Errorf("a memory budget of %s gives %d subscription buffers (%d streams, %d shard groups) %d bytes each, under %s: raise -memory-budget or lower -max-streams, -max-connections or -max-shard-groups",
			cli.FormatBytes(budget), p.Buffers, streams, shards, half/int64(p.Buffers), cli.FormatBytes(minSubscriptionBytes))
	}
	slotShare := budget / 8 * 3 / int64(p.Buffers) / slotBytes
	if slots == 0 {
		slots = int(min(slotShare, maxSubscriptionSlots))
	} else if int64(slots) > slotShare {
		return p, fmt.Errorf("-subscription-buffer %d: %d subscription buffers of %d-byte slots take %s, over three eighths of the memory budget of %s: lower -subscription-buffer (0 sizes it from the budget) or raise -memory-budget",
			slots, p.Buffers, slotBytes, cli.FormatBytes(int64(slots)*slotBytes*int64(p.Buffers)), cli.FormatBytes(budget))
	}
	p.Slots = slots
	envelopes := half - int64(p.Slots)*slotBytes*int64(p.Buffers)
	p.Reserve = envelopes / 2 / int64(p.Buffers)
	p.Pool = envelopes - p.Reserve*int64(p.Buffers)
	p.Subscription = min(p.Reserve+p.Pool/4, maxSubscriptionBytes, int64(p.Slots)*lapGuardBytes)
	p.MaxMessage = int(min(int64(ingress.DefaultMaxMessageSize), budget/32))
	p.MaxEnvelope = int(min(int64(maxEnvelope), p.Subscription))
	return p, nil
}
