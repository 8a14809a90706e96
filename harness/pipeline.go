package harness

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"

	"github.com/sluicelog/sluice/discovery"
	"github.com/sluicelog/sluice/envelope"
	"github.com/sluicelog/sluice/nozzle"
)

// BenchEnvelope is the envelope sluice's benchmarks use: a log with a
// 100-byte payload, a 36-character source ID and three tags.
func BenchEnvelope() *envelope.Envelope {
	return envelope.NewLog("9f1c2b7e-6a41-4d3e-8c55-0b7a2e19d4f3", bytes.Repeat([]byte("x"), 100),
		envelope.WithInstanceID("0"),
		envelope.WithTag("deployment", "cf"),
		envelope.WithTag("job", "diego-cell"),
		envelope.WithTag("index", "5d3e1f2a"),
	)
}

// BenchBatch returns a batch of n copies of BenchEnvelope.
func BenchBatch(n int) *envelope.Batch {
	b := &envelope.Batch{Batch: make([]*envelope.Envelope, n)}
	for i := range b.Batch {
		b.Batch[i] = BenchEnvelope()
	}
	return b
}

// Pipeline is the two-hop sluice path over loopback gRPC: an agent
// (ingress.Server, diode, Forwarder, Pool) sending to a router (ingress
// server, diode, serve.Router, serve.Server), and one subscriber reading
// the router with a nozzle.Reader and counting what it gets, without decoding.
type Pipeline struct {
	Router *Router
	Agent  *Agent
	Reader *nozzle.Reader

	delivered atomic.Uint64
	cancel    context.CancelFunc
	wg        sync.WaitGroup
}

// StartPipeline starts a pipeline and waits until its subscriber is
// subscribed.
func StartPipeline(ctx context.Context) (*Pipeline, error) {
	rt, err := StartRouter(RouterConfig{ID: "router", Zone: "z1", SubscriptionBuffer: 10000})
	if err != nil {
		return nil, err
	}
	ag, err := StartAgent(discovery.NewStatic(rt.Endpoint()), AgentConfig{Zone: "z1"})
	if err != nil {
		rt.Close()
		return nil, err
	}
	req := &envelope.EgressBatchRequest{ShardId: "bench", Selectors: []*envelope.Selector{{Message: &envelope.Selector_Log{Log: &envelope.LogSelector{}}}}}
	rd, err := nozzle.NewReader(rt.Addr(), req, nozzle.WithBufferSize(100000))
	if err != nil {
		ag.Close()
		rt.Close()
		return nil, err
	}
	rctx, cancel := context.WithCancel(context.Background())
	p := &Pipeline{Router: rt, Agent: ag, Reader: rd, cancel: cancel}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			if _, err := rd.Next(rctx); err != nil {
				return
			}
			p.delivered.Add(1)
		}
	}()
	if err := WaitFor(ctx, func() bool { return rt.Router.Stats().Subscriptions == 1 && ag.Pool.Stats().Streams > 0 }); err != nil {
		p.Close()
		return nil, fmt.Errorf("harness: pipeline did not come up: %w", err)
	}
	return p, nil
}

// Delivered is how many envelopes the subscriber has read.
func (p *Pipeline) Delivered() uint64 { return p.delivered.Load() }

// Dropped is how many envelopes every hop has counted dropped so far.
func (p *Pipeline) Dropped() uint64 {
	var n uint64
	n += p.Agent.Buffer.Stats().Dropped
	for _, v := range p.Agent.Forwarder.Stats().Dropped {
		n += v
	}
	n += p.Router.Buffer.Stats().Dropped
	n += p.Router.Router.Stats().Dropped.Total()
	n += p.Router.Egress.Stats().Dropped.Total()
	rs := p.Reader.Stats()
	n += rs.Dropped.Total()
	return n
}

// Wait waits until every one of n envelopes sent is delivered or counted
// dropped, or ctx ends.
func (p *Pipeline) Wait(ctx context.Context, n uint64) error {
	return WaitFor(ctx, func() bool { return p.Delivered()+p.Dropped() >= n })
}

// Close stops the pipeline.
func (p *Pipeline) Close() {
	p.cancel()
	p.Reader.Close()
	p.wg.Wait()
	p.Agent.Close()
	p.Router.Close()
}

// Send sends n envelopes, as copies of batch, to addr over one BatchSender
// stream of the generated client (grpc marshals every send), the same way
// SendBaseline does, and returns once the server has confirmed the stream.
func Send(ctx context.Context, addr string, batch *envelope.Batch, n int) error {
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	defer cc.Close()
	stream, err := envelope.NewIngressClient(cc).BatchSender(ctx)
	if err != nil {
		return err
	}
	per := len(batch.GetBatch())
	if per == 0 {
		return errors.New("harness: empty batch")
	}
	last := proto.Clone(batch).(*envelope.Batch)
	for sent := 0; sent < n; sent += per {
		b := batch
		if n-sent < per {
			last.Batch = batch.Batch[:n-sent]
			b = last
		}
		if err := stream.Send(b); err != nil {
			return err
		}
	}
	_, err = stream.CloseAndRecv()
	return err
}
