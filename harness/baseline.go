package harness

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"

	"github.com/sluicelog/sluice/envelope"
)

// Baseline is the plainest one-hop equivalent of a sluice pipeline, written
// with grpc-go and protobuf alone: a loggregator.v2.Ingress server whose
// BatchSender unmarshals every batch (as grpc's default codec does) and
// counts the envelopes. It is what BenchmarkGRPCBaseline measures the
// two-hop sluice pipeline against.
type Baseline struct {
	envelope.UnimplementedIngressServer
	received atomic.Int64
	gs       *grpc.Server
	addr     string
	wg       sync.WaitGroup
}

// StartBaseline serves the baseline on a loopback port.
func StartBaseline() (*Baseline, error) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	b := &Baseline{gs: grpc.NewServer(), addr: lis.Addr().String()}
	envelope.RegisterIngressServer(b.gs, b)
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		_ = b.gs.Serve(lis)
	}()
	return b, nil
}

// BatchSender implements envelope.IngressServer.
func (b *Baseline) BatchSender(s grpc.ClientStreamingServer[envelope.EnvelopeBatch, envelope.BatchSenderResponse]) error {
	for {
		batch, err := s.Recv()
		if errors.Is(err, io.EOF) {
			return s.SendAndClose(&envelope.BatchSenderResponse{})
		}
		if err != nil {
			return err
		}
		b.received.Add(int64(len(batch.GetBatch())))
	}
}

// Addr is the server's address.
func (b *Baseline) Addr() string { return b.addr }

// Received is how many envelopes the server has unmarshaled.
func (b *Baseline) Received() int64 { return b.received.Load() }

// Stop stops the server.
func (b *Baseline) Stop() {
	b.gs.Stop()
	b.wg.Wait()
}

// WaitFor polls cond every millisecond until it is true or ctx ends, and
// returns ctx's error in that case: how the harness waits for counters to
// reach a value without sleeping a fixed time.
func WaitFor(ctx context.Context, cond func() bool) error {
	t := time.NewTicker(time.Millisecond)
	defer t.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	return nil
}
