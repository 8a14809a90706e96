package ingress

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/sluicelog/sluice/diode"
	"github.com/sluicelog/sluice/envelope"
	"github.com/sluicelog/sluice/internal/testtls"
	"github.com/sluicelog/sluice/internal/wire"
	"github.com/sluicelog/sluice/limit"
)

// benchBatch is 100 log envelopes with a 100-byte payload, a 36-character
// source ID and 3 tags, as wire bytes.
func benchBatch(b *testing.B) *wire.Batch {
	envs := make([][]byte, 100)
	for i := range envs {
		envs[i] = marshal(b, envelope.NewLog("6f9f1b7a-3c1e-4f0b-9d7a-2b8c4e5f6a7b", []byte(strings.Repeat("x", 100)),
			envelope.WithTags(map[string]string{"deployment": "cf", "job": "router", "index": "0"})))
	}
	return &wire.Batch{Envelopes: envs}
}

// BenchmarkIngressServer sends batches of 100 envelopes over one
// BatchSender stream on loopback into a diode that a goroutine drains.
// "wire" is the sluice Server (envelopes stay wire bytes); "wire_mtls" the
// same over mutual TLS; "stock" a server built from the generated stubs,
// which unmarshals every batch (Loggregator's way), for comparison.
func BenchmarkIngressServer(b *testing.B) {
	b.Run("wire", func(b *testing.B) {
		benchServer(b, nil, nil)
	})
	b.Run("wire_mtls", func(b *testing.B) {
		_, server, client := testtls.Must(b)
		benchServer(b, server, client)
	})
	b.Run("stock", func(b *testing.B) {
		buf, err := diode.NewManyToOne[*envelope.Envelope](10000)
		if err != nil {
			b.Fatal(err)
		}
		stopReader := readAll[*envelope.Envelope](buf)
		defer stopReader()
		gs := grpc.NewServer()
		envelope.RegisterIngressServer(gs, &stockServer{buf: buf})
		lis, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		go gs.Serve(lis)
		defer gs.Stop()
		sendBench(b, lis.Addr().String(), nil)
		reportDrops(b, buf.Stats())
	})
}

func benchServer(b *testing.B, server, client *tls.Config) {
	buf, err := diode.NewManyToOne[[]byte](10000)
	if err != nil {
		b.Fatal(err)
	}
	sendBench(b, startBench(b, buf, WithTLS(server)), client)
	reportDrops(b, buf.Stats())
}

// startBench starts a Server into buf on loopback, with a goroutine
// draining buf, until the benchmark ends; it returns the address.
func startBench(b *testing.B, buf diode.Buffer[[]byte], opts ...ServerOption) string {
	stopReader := readAll(buf)
	b.Cleanup(stopReader)
	s, err := NewServer(buf, opts...)
	if err != nil {
		b.Fatal(err)
	}
	addr, err := s.Start("127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return addr.String()
}

// sendBench writes b.N batches on one stream and waits for the server's
// answer, so that every batch has been handled when the timer stops.
func sendBench(b *testing.B, addr string, cfg *tls.Config) {
	creds := insecure.NewCredentials()
	if cfg != nil {
		creds = credentials.NewTLS(cfg)
	}
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(creds))
	if err != nil {
		b.Fatal(err)
	}
	defer cc.Close()
	batch := benchBatch(b)
	ctx := context.Background()
	st, err := wire.OpenBatchSender(ctx, cc)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(batch.Size()))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if err := st.SendMsg(batch); err != nil {
			b.Fatal(err)
		}
	}
	if err := st.CloseSend(); err != nil {
		b.Fatal(err)
	}
	if err := st.RecvMsg(&envelope.BatchSenderResponse{}); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N*len(batch.Envelopes))/b.Elapsed().Seconds(), "env/s")
}

func reportDrops(b *testing.B, st diode.Stats) {
	b.ReportMetric(float64(st.Dropped)/float64(b.N), "drops/op")
}

// readAll drains buf on a goroutine until the returned stop is called.
func readAll[T any](buf diode.Buffer[T]) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			if _, err := buf.Next(ctx); err != nil {
				return
			}
		}
	}()
	return func() { cancel(); <-done }
}

// stockServer is what a server built from the generated stubs does: every
// batch is unmarshaled into envelopes.
type stockServer struct {
	envelope.UnimplementedIngressServer
	buf diode.Buffer[*envelope.Envelope]
}

func (s *stockServer) BatchSender(st grpc.ClientStreamingServer[envelope.EnvelopeBatch, envelope.BatchSenderResponse]) error {
	for {
		b, err := st.Recv()
		if err == io.EOF {
			return st.SendAndClose(&envelope.BatchSenderResponse{})
		}
		if err != nil {
			return err
		}
		for _, e := range b.Batch {
			s.buf.Set(e)
		}
	}
}

// BenchmarkAcceptBatch is the Server's own work for one received batch of
// 100 envelopes, without the network: split, validate, look for empty
// source IDs, write into the diode (nobody reads it: it overwrites).
func BenchmarkAcceptBatch(b *testing.B) {
	buf, err := diode.NewManyToOne[[]byte](10000)
	if err != nil {
		b.Fatal(err)
	}
	benchAccept(b, buf)
}

// BenchmarkAcceptBatchLimiter is BenchmarkAcceptBatch into a Limiter in
// front of the same diode (a limit high enough that nothing is limited),
// which the Server hands the source IDs it read (SetBatch).
func BenchmarkAcceptBatchLimiter(b *testing.B) {
	buf, err := diode.NewManyToOne[[]byte](10000)
	if err != nil {
		b.Fatal(err)
	}
	benchAccept(b, benchLimiter(b, buf))
}

// benchLimiter returns a Limiter in front of next whose limit nothing
// reaches, closed when the benchmark ends.
func benchLimiter(b *testing.B, next diode.Buffer[[]byte]) *limit.Limiter {
	lim, err := limit.New(next, limit.Config{Default: limit.Limit{Rate: 1e9, Burst: 1 << 30}})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = lim.Close() })
	return lim
}

func benchAccept(b *testing.B, buf diode.Buffer[[]byte]) {
	s, err := NewServer(buf)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	raw := envelope.AppendBatch(nil, benchBatch(b).Envelopes)
	var msg wire.Batch
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		msg.Raw = raw
		if err := s.acceptBatch(&msg); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkIngressSend is one unary Send of 100 envelopes per op over
// loopback, into a diode a goroutine drains ("diode") and into a Limiter
// in front of it, which the Server hands the source IDs ("limiter").
func BenchmarkIngressSend(b *testing.B) {
	for _, keyed := range []bool{false, true} {
		name := "diode"
		if keyed {
			name = "limiter"
		}
		b.Run(name, func(b *testing.B) {
			ring, err := diode.NewManyToOne[[]byte](10000)
			if err != nil {
				b.Fatal(err)
			}
			var buf diode.Buffer[[]byte] = ring
			if keyed {
				buf = benchLimiter(b, ring)
			}
			cc, err := grpc.NewClient(startBench(b, buf), grpc.WithTransportCredentials(insecure.NewCredentials()))
			if err != nil {
				b.Fatal(err)
			}
			defer cc.Close()
			batch := benchBatch(b)
			ctx := context.Background()
			b.SetBytes(int64(batch.Size()))
			b.ReportAllocs()
			for b.Loop() {
				if err := wire.Send(ctx, cc, batch); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
