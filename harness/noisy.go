package harness

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/sluicelog/sluice/discovery"
	"github.com/sluicelog/sluice/envelope"
	"github.com/sluicelog/sluice/ingress"
	"github.com/sluicelog/sluice/limit"
	"github.com/sluicelog/sluice/nozzle"
)

// NoisySource is the source ID of the flooding source of a noisy run.
const NoisySource = "noisy"

// NoisyConfig describes a noisy-neighbour run: an emitter, an agent and a
// gated router (mutual TLS over loopback) and one subscriber. Every round
// the noisy source offers Multiple times the router's Capacity and each
// of Steady sources one envelope, spread through the noisy stream; the
// run waits until the router's buffer holds all of it, lets the router
// route Capacity envelopes (or what its buffer holds, if less), and waits
// until the subscriber has them. Conditions, not timing, end each phase,
// so the outcome is the same on a fast or a loaded machine.
type NoisyConfig struct {
	// Policy is the agent's and the router's buffer policy.
	Policy limit.Policy
	// Capacity is what the router routes per round (default 200).
	Capacity int
	// Multiple is the noisy source's offer in capacities per round
	// (default 10).
	Multiple int
	// Steady is the number of steady sources (default 99).
	Steady int
	// Rounds is the number of rounds (default 11).
	Rounds int
	// BufferSize is the router's ingress buffer (default 1,000).
	BufferSize int
	// WaitWhenFull is the router's ingress.WithWaitWhenFull (0: off).
	WaitWhenFull time.Duration
}

// NoisyResult is what a noisy run offered and delivered, per kind of
// source. Offered == Delivered + RouterDropped over both kinds: the
// router's ingress buffer is the only hop that drops (RunNoisy fails
// otherwise).
type NoisyResult struct {
	Policy                          limit.Policy
	OfferedNoisy, OfferedSteady     uint64
	DeliveredNoisy, DeliveredSteady uint64
	RouterDropped                   uint64
	// RouterWaits and RouterWaitTimeouts are the router's ingress
	// streams' waits for room (NoisyConfig.WaitWhenFull).
	RouterWaits, RouterWaitTimeouts uint64
	// Summary is the router's heavy-hitter summary at the end (empty for
	// the ring, which keeps none).
	Summary limit.Snapshot
}

// SteadyLoss is the share of the steady sources' envelopes lost.
func (r NoisyResult) SteadyLoss() float64 {
	return share(r.OfferedSteady-r.DeliveredSteady, r.OfferedSteady)
}

// NoisyLoss is the share of the noisy source's envelopes lost.
func (r NoisyResult) NoisyLoss() float64 {
	return share(r.OfferedNoisy-r.DeliveredNoisy, r.OfferedNoisy)
}

func share(a, b uint64) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

func (c *NoisyConfig) defaults() {
	c.Capacity = orDefault(c.Capacity, 200)
	c.Multiple = orDefault(c.Multiple, 10)
	c.Steady = orDefault(c.Steady, 99)
	c.Rounds = orDefault(c.Rounds, 11)
	c.BufferSize = orDefault(c.BufferSize, 1000)
}

// RunNoisy runs cfg and returns what each kind of source got.
func RunNoisy(ctx context.Context, cfg NoisyConfig) (NoisyResult, error) {
	cfg.defaults()
	res := NoisyResult{Policy: cfg.Policy}
	_, serverTLS, clientTLS := mustTLS()
	if serverTLS == nil {
		return res, errors.New("harness: cannot make test certificates")
	}
	rt, err := StartRouter(RouterConfig{ID: "r1", Zone: "z1", TLS: serverTLS, Policy: cfg.Policy, BufferSize: cfg.BufferSize, Gated: true, WaitWhenFull: cfg.WaitWhenFull})
	if err != nil {
		return res, err
	}
	defer rt.Close()
	ag, err := StartAgent(discovery.NewStatic(rt.Endpoint()), AgentConfig{Zone: "z1", ServerTLS: serverTLS, RouterTLS: clientTLS, Policy: cfg.Policy})
	if err != nil {
		return res, err
	}
	defer ag.Close()

	req := &envelope.EgressBatchRequest{ShardId: "noisy-study", Selectors: []*envelope.Selector{{Message: &envelope.Selector_Log{Log: &envelope.LogSelector{}}}}}
	rd, err := nozzle.NewReader(rt.Addr(), req, nozzle.WithTLS(clientTLS), nozzle.WithBufferSize(100000))
	if err != nil {
		return res, err
	}
	defer rd.Close()
	var (
		mu        sync.Mutex
		delivered = map[string]uint64{}
		total     uint64
	)
	rctx, stopReading := context.WithCancel(ctx)
	read := make(chan struct{})
	go func() {
		defer close(read)
		for {
			b, err := rd.Next(rctx)
			if err != nil {
				return
			}
			// A copy: the ID shares b's memory, and a map keeps the
			// key it is last assigned with.
			id := strings.Clone(limit.SourceID(b))
			mu.Lock()
			delivered[id]++
			total++
			mu.Unlock()
		}
	}()
	defer func() { stopReading(); <-read }()
	deliveredTotal := func() uint64 {
		mu.Lock()
		defer mu.Unlock()
		return total
	}
	if err := WaitFor(ctx, func() bool { return rt.Router.Stats().Subscriptions == 1 }); err != nil {
		return res, fmt.Errorf("harness: the subscriber did not subscribe: %w", err)
	}

	perRound := cfg.Multiple * cfg.Capacity
	em, err := ingress.NewClient(ag.Addr(), ingress.WithTLS(clientTLS), ingress.WithBufferSize(2*(perRound+cfg.Steady)))
	if err != nil {
		return res, err
	}
	defer em.Close()
	noisy, err := noisyEnvelope(NoisySource)
	if err != nil {
		return res, err
	}
	steady := make([][]byte, cfg.Steady)
	for i := range steady {
		if steady[i], err = noisyEnvelope(fmt.Sprintf("steady-%03d", i)); err != nil {
			return res, err
		}
	}
	every := max(1, perRound/cfg.Steady) // noisy envelopes between two steady ones

	var emitted uint64
	for round := 1; round <= cfg.Rounds; round++ {
		k := 0
		for i := range perRound {
			em.EmitBytes(noisy)
			emitted++
			if i%every == every-1 && k < cfg.Steady {
				em.EmitBytes(steady[k])
				emitted++
				k++
			}
		}
		for ; k < cfg.Steady; k++ {
			em.EmitBytes(steady[k])
			emitted++
		}
		if err := WaitFor(ctx, func() bool { return rt.Buffer.Stats().Written == emitted }); err != nil {
			return res, fmt.Errorf("harness: round %d: the router's buffer took %d of %d: %w", round, rt.Buffer.Stats().Written, emitted, err)
		}
		want := rt.Gate.Passed() + uint64(cfg.Capacity)
		rt.Gate.AllowOnly(cfg.Capacity)
		routed := func() bool {
			s, passed := rt.Buffer.Stats(), rt.Gate.Passed()
			return (passed == want || s.Written == s.Read+s.Dropped) && deliveredTotal() == passed
		}
		if err := WaitFor(ctx, routed); err != nil {
			return res, fmt.Errorf("harness: round %d: routed %d, delivered %d of %d: %w", round, rt.Gate.Passed(), deliveredTotal(), want, err)
		}
	}
	// The end: route what the buffer still holds.
	rt.Gate.Open()
	drained := func() bool {
		s := rt.Buffer.Stats()
		return s.Written == s.Read+s.Dropped && rt.Gate.Passed() == deliveredTotal()
	}
	if err := WaitFor(ctx, drained); err != nil {
		return res, fmt.Errorf("harness: the router did not drain: %w", err)
	}
	if d := em.Stats().Dropped.Total() + ag.Buffer.Stats().Dropped; d != 0 {
		return res, fmt.Errorf("harness: %d envelopes dropped before the router", d)
	}

	mu.Lock()
	defer mu.Unlock()
	res.OfferedNoisy = uint64(cfg.Rounds * perRound)
	res.OfferedSteady = uint64(cfg.Rounds * cfg.Steady)
	res.DeliveredNoisy = delivered[NoisySource]
	res.DeliveredSteady = total - res.DeliveredNoisy
	res.RouterDropped = rt.Buffer.Stats().Dropped
	is := rt.Ingress.Stats()
	res.RouterWaits, res.RouterWaitTimeouts = is.Waits, is.WaitTimeouts
	if s := rt.IngressBuffer.Summary(); s != nil {
		res.Summary = s.Snapshot()
	}
	if res.OfferedNoisy+res.OfferedSteady != emitted || emitted != total+res.RouterDropped {
		return res, fmt.Errorf("harness: books do not close: emitted %d, delivered %d, dropped %d", emitted, total, res.RouterDropped)
	}
	return res, nil
}

func noisyEnvelope(id string) ([]byte, error) {
	return proto.Marshal(envelope.NewLog(id, bytes.Repeat([]byte("x"), 100), envelope.WithInstanceID("0")))
}

// HeavyHitters merges the heavy-hitter summaries of the agents' ingress
// buffers, and those of the routers', into one Snapshot each (counts of a
// source summed over the instances, top k of each ranking). Buffers
// without a summary (a ring without TopologyConfig.Summarize) add
// nothing.
func (t *Topology) HeavyHitters(k int) (agents, routers limit.Snapshot) {
	var as, rs []limit.Snapshot
	for _, a := range t.Agents {
		if s := a.Buffer.Summary(); s != nil {
			as = append(as, s.Snapshot())
		}
	}
	t.mu.Lock()
	for _, r := range t.Routers {
		if s := r.IngressBuffer.Summary(); s != nil {
			rs = append(rs, s.Snapshot())
		}
	}
	t.mu.Unlock()
	return limit.Merge(k, as...), limit.Merge(k, rs...)
}
