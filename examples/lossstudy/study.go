package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync/atomic"
	"time"

	"github.com/sluicelog/sluice/envelope"
	"github.com/sluicelog/sluice/harness"
	"github.com/sluicelog/sluice/ingress"
	"github.com/sluicelog/sluice/internal/wire"
	"github.com/sluicelog/sluice/nozzle"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// Step is what one offered rate did, hop by hop.
type Step struct {
	Rate                int    // offered envelopes per second
	Offered             uint64 // envelopes emitted
	ClientDropped       uint64 // dropped by the emitting client (its diode overflowed, ...)
	RouterIngress       uint64 // accepted by the router
	RouterBufferDropped uint64 // dropped in the router's ingress diode
	FastDelivered       uint64
	FastRouterDropped   uint64 // dropped in the fast subscription's router diode
	FastNozzleDropped   uint64 // dropped in the fast nozzle's own buffer
	SlowDelivered       uint64
	SlowRouterDropped   uint64 // dropped in the slow subscription's router diode
}

// Balanced reports whether both subscribers' books close for the step.
func (s Step) Balanced() bool {
	common := s.ClientDropped + s.RouterBufferDropped
	return s.Offered == s.FastDelivered+s.FastRouterDropped+s.FastNozzleDropped+common &&
		s.Offered == s.SlowDelivered+s.SlowRouterDropped+common
}

// Config is a study's shape.
type Config struct {
	Rates     []int
	Step      time.Duration
	SlowDelay time.Duration // the slow subscriber's pause per batch it reads
}

// runStep offers rate envelopes per second for cfg.Step to a fresh router
// with one fast and one slow subscriber, drains, and reads every hop.
func runStep(ctx context.Context, cfg Config, rate int, envs [][]byte) (Step, error) {
	st := Step{Rate: rate}
	rt, err := harness.StartRouter(harness.RouterConfig{ID: "study", Zone: "z1"})
	if err != nil {
		return st, err
	}
	defer rt.Close()
	logs := []*envelope.Selector{{Message: &envelope.Selector_Log{Log: &envelope.LogSelector{}}}}

	fast, err := nozzle.NewReader(rt.Addr(), &envelope.EgressBatchRequest{ShardId: "fast", Selectors: logs}, nozzle.WithBufferSize(100000))
	if err != nil {
		return st, err
	}
	defer fast.Close()
	var fastGot atomic.Uint64
	fctx, fcancel := context.WithCancel(ctx)
	defer fcancel()
	go func() {
		for {
			if _, err := fast.Next(fctx); err != nil {
				return
			}
			fastGot.Add(1)
		}
	}()

	// The slow subscriber reads its stream slowly, so the router's
	// per-subscription diode is where its envelopes drop, as in Loggregator.
	cc, err := grpc.NewClient(rt.Addr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return st, err
	}
	defer cc.Close()
	sctx, scancel := context.WithCancel(ctx)
	defer scancel()
	stream, err := wire.OpenBatchedReceiver(sctx, cc, &envelope.EgressBatchRequest{ShardId: "slow", Selectors: logs})
	if err != nil {
		return st, err
	}
	var slowGot atomic.Uint64
	slowDone := make(chan struct{})
	var slowPaused atomic.Bool
	slowPaused.Store(true)
	go func() {
		defer close(slowDone)
		for {
			var b wire.Batch
			if err := stream.RecvMsg(&b); err != nil {
				return
			}
			if err := b.Split(); err == nil {
				slowGot.Add(uint64(len(b.Envelopes)))
			}
			if slowPaused.Load() {
				time.Sleep(cfg.SlowDelay)
			}
		}
	}()
	if err := harness.WaitFor(ctx, func() bool { return rt.Router.Stats().Subscriptions == 2 }); err != nil {
		return st, errors.New("lossstudy: subscribers did not subscribe")
	}

	client, err := ingress.NewClient(rt.Addr(), ingress.WithBufferSize(20000))
	if err != nil {
		return st, err
	}
	n := harness.Pace(ctx, rate, cfg.Step, func(i int) { client.EmitBytes(envs[i%len(envs)]) })
	cctx, ccancel := context.WithTimeout(ctx, 30*time.Second)
	defer ccancel()
	_ = client.Shutdown(cctx)
	cs := client.Stats()

	// Drain: the router routes what it holds; the slow subscriber stops
	// pausing so its subscription empties.
	slowPaused.Store(false)
	settled := func() bool {
		b := rt.Buffer.Stats()
		if b.Written != b.Read+b.Dropped {
			return false
		}
		// The router published all it took from its buffer: an envelope
		// taken but not yet handed to the subscriptions would otherwise
		// look delivered-or-dropped to nobody and settle the books early.
		if r := rt.Router.Stats(); r.Ingress+r.Malformed+r.TooLarge != b.Read {
			return false
		}
		rs := rt.Router.Stats()
		fs := rs.Shards["fast"]
		ss := rs.Shards["slow"]
		fr := fast.Stats()
		return b.Written == b.Read+b.Dropped &&
			fs.Egress == fr.Received+fs.Dropped.Total() && fr.Delivered == fastGot.Load() && fr.Buffered == 0 &&
			ss.Egress == slowGot.Load()+ss.Dropped.Total()
	}
	if err := harness.WaitFor(cctx, settled); err != nil {
		return st, fmt.Errorf("lossstudy: rate %d did not settle", rate)
	}
	b := rt.Buffer.Stats()
	rs := rt.Router.Stats()
	st.Offered = uint64(n)
	st.ClientDropped = cs.Dropped.Total()
	st.RouterIngress = rt.Ingress.Stats().Ingress
	st.RouterBufferDropped = b.Dropped
	st.FastDelivered = fastGot.Load()
	st.FastRouterDropped = rs.Shards["fast"].Dropped.Total()
	st.FastNozzleDropped = fast.Stats().Dropped.Total()
	st.SlowDelivered = slowGot.Load()
	st.SlowRouterDropped = rs.Shards["slow"].Dropped.Total()
	scancel()
	<-slowDone
	return st, nil
}

// Run runs every step in order and reports each as it finishes.
func Run(ctx context.Context, cfg Config, progress io.Writer) ([]Step, error) {
	envs, err := harness.Mix{Log: 1}.Envelopes(100)
	if err != nil {
		return nil, err
	}
	var steps []Step
	for _, rate := range cfg.Rates {
		s, err := runStep(ctx, cfg, rate, envs)
		if err != nil {
			return steps, err
		}
		steps = append(steps, s)
		if progress != nil {
			fmt.Fprintf(progress, "rate %8d/s: offered %d, fast delivered %d (dropped %d), slow delivered %d (dropped at router %d), balanced %v\n",
				s.Rate, s.Offered, s.FastDelivered, s.FastRouterDropped+s.FastNozzleDropped+s.ClientDropped+s.RouterBufferDropped,
				s.SlowDelivered, s.SlowRouterDropped, s.Balanced())
		}
	}
	return steps, nil
}
