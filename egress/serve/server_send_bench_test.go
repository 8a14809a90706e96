package serve

import (
	"bytes"
	"context"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	"github.com/sluicelog/sluice/envelope"
	"github.com/sluicelog/sluice/internal/benchcpu"
	"github.com/sluicelog/sluice/internal/wire"
)

// codecStream is a grpc.ServerStream whose SendMsg does what grpc does with
// the message up to the transport: it marshals it with the wire codec, then
// frees the buffers (grpc frees them once written). It counts messages and
// bytes.
type codecStream struct {
	grpc.ServerStream
	msgs, bytes int
	last        []byte // a copy of the last message, when keep is set
	keep        bool
}

func (s *codecStream) Context() context.Context    { return context.Background() }
func (s *codecStream) SetHeader(metadata.MD) error { return nil }
func (s *codecStream) SendMsg(m any) error {
	bufs, err := wire.Codec{}.Marshal(m)
	if err != nil {
		return err
	}
	s.msgs++
	s.bytes += bufs.Len()
	if s.keep {
		s.last = bufs.Materialize()
	}
	bufs.Free()
	return nil
}

// nopSubscription is a Subscription that never holds anything.
type nopSubscription struct{}

func (nopSubscription) Next(ctx context.Context) ([]byte, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}
func (nopSubscription) TryNext() ([]byte, bool) { return nil, false }
func (nopSubscription) Close() error            { return nil }

// benchSender returns a streamSender of a Server built with opts, sending
// to stream as a BatchedReceiver (batched) or Receiver stream would.
func benchSender(tb testing.TB, stream grpc.ServerStream, batched, preferred bool, opts ...ServerOption) *streamSender {
	tb.Helper()
	srv, err := NewServer(SubscriberFunc(func(context.Context, *envelope.EgressBatchRequest) (Subscription, error) {
		return nopSubscription{}, nil
	}), opts...)
	if err != nil {
		tb.Fatal(err)
	}
	return &streamSender{s: srv, stream: stream, sub: nopSubscription{}, stop: func() {}, watch: newSendWatch(srv.cfg.sendTimeout),
		batched: batched, converge: !srv.cfg.tagsUnchanged, preferred: preferred}
}

// benchSendEnvelope is routerbench's envelope: a log of 239 bytes (a
// 100-byte payload, a 36-character source ID, an instance ID, three tags).
func benchSendEnvelope() *envelope.Envelope {
	return envelope.NewLog("9f1c2b7e-6a41-4d3e-8c55-0b7a2e19d4f3", bytes.Repeat([]byte("x"), 100),
		envelope.WithInstanceID("0"), envelope.WithTag("deployment", "cf"), envelope.WithTag("job", "diego-cell"),
		envelope.WithTag("index", "5d3e1f2a-9c47-4b1e-8f6d-2a7e3c9b1d05"))
}

// BenchmarkEgressSend measures a Server's send path per batch of 100
// envelopes (routerbench's: 239 bytes, three tags) without the network:
// the tag rule, the split by WithMaxBatchBytes, the codec's marshaling
// into a pooled buffer, the send watch and the counters; SendMsg marshals
// and frees, as grpc does before it writes. deprecated is what a
// BatchedReceiver with use_preferred_tags=false costs (every tag moves);
// preferred passes envelopes through (no deprecated tags); unchanged is
// WithTagsUnchanged; receiver sends one message per envelope.
func BenchmarkEgressSend(b *testing.B) {
	env := routerTestMarshal(b, benchSendEnvelope())
	for _, c := range []struct {
		name               string
		batched, preferred bool
		opts               []ServerOption
	}{
		{"deprecated", true, false, nil},
		{"preferred", true, true, nil},
		{"unchanged", true, false, []ServerOption{WithTagsUnchanged()}},
		{"receiver/deprecated", false, false, nil},
	} {
		b.Run(c.name, func(b *testing.B) {
			stream := &codecStream{}
			w := benchSender(b, stream, c.batched, c.preferred, c.opts...)
			envs := make([][]byte, 100)
			b.ReportAllocs()
			stopCPU := benchcpu.Start(b)
			for b.Loop() {
				for i := range envs {
					envs[i] = env
				}
				w.flush(envs)
			}
			stopCPU()
			if w.err != nil {
				b.Fatal(w.err)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(envs)), "ns/env")
			b.ReportMetric(float64(stream.bytes)/float64(b.N*len(envs)), "B/env")
		})
	}
}
