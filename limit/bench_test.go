package limit_test

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/sluicelog/sluice/diode"
	"github.com/sluicelog/sluice/envelope"
	"github.com/sluicelog/sluice/internal/benchcpu"
	"github.com/sluicelog/sluice/limit"
)

// benchEnvelopes are the envelope the issues measure with (a log with a
// 100-byte payload, a 36-character source ID and three tags) from 100
// sources.
var benchEnvelopes = func() [][]byte {
	out := make([][]byte, 100)
	for i := range out {
		e := envelope.NewLog(fmt.Sprintf("9f1c2b7e-6a41-4d3e-8c55-0b7a2e19%04d", i), bytes.Repeat([]byte("x"), 100),
			envelope.WithInstanceID("0"),
			envelope.WithTag("deployment", "cf"),
			envelope.WithTag("job", "diego-cell"),
			envelope.WithTag("index", "5d3e1f2a"))
		b, err := proto.Marshal(e)
		if err != nil {
			panic(err)
		}
		out[i] = b
	}
	return out
}()

const benchSize = 10_000

// buffers are what the benchmarks put envelopes through: the plain diode,
// the fair buffer, and the limiter in front of each (a limit high enough
// that the bucket work is done but nothing is rate limited), with the
// summary where it says so.
var buffers = []struct {
	name string
	new  func(b *testing.B) diode.Buffer[[]byte]
}{
	{"ManyToOne", func(*testing.B) diode.Buffer[[]byte] { d, _ := diode.NewManyToOne[[]byte](benchSize); return d }},
	{"Fair", func(*testing.B) diode.Buffer[[]byte] { d, _ := limit.NewFair(benchSize); return d }},
	{"Limiter+ManyToOne", func(b *testing.B) diode.Buffer[[]byte] {
		d, _ := diode.NewManyToOne[[]byte](benchSize)
		return limiter(b, d)
	}},
	{"Limiter+Summary+ManyToOne", func(b *testing.B) diode.Buffer[[]byte] {
		d, _ := diode.NewManyToOne[[]byte](benchSize)
		return limiter(b, d, limit.WithSummary(limit.NewSummary(0)))
	}},
	{"Limiter+Fair", func(b *testing.B) diode.Buffer[[]byte] {
		d, _ := limit.NewFair(benchSize)
		return limiter(b, d)
	}},
}

func limiter(b *testing.B, d diode.Buffer[[]byte], opts ...limit.Option) diode.Buffer[[]byte] {
	l, err := limit.New(d, limit.Config{Default: limit.Limit{Rate: 1e9, Burst: 1 << 30}}, opts...)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = l.Close() })
	return l
}

// BenchmarkSetTryNext: one goroutine alternating a write and a read, the
// cost per envelope without contention.
func BenchmarkSetTryNext(b *testing.B) {
	for _, bb := range buffers {
		b.Run(bb.name, func(b *testing.B) {
			d := bb.new(b)
			b.ReportAllocs()
			defer benchcpu.Start(b)()
			i := 0
			for b.Loop() {
				d.Set(benchEnvelopes[i%len(benchEnvelopes)])
				d.TryNext()
				i++
			}
		})
	}
}

// benchIDs are the source IDs of benchEnvelopes, as an ingress server
// reads them while validating.
var benchIDs = func() []string {
	ids := make([]string, len(benchEnvelopes))
	for i, e := range benchEnvelopes {
		ids[i] = limit.SourceID(e)
	}
	return ids
}()

// BenchmarkSetTryNextKeyed: the same buffers fed as an ingress server
// feeds them, a batch of 100 envelopes from 100 sources with their source
// IDs (SetBatch, for the buffers that take them: diode.Keyed; Set for the
// plain ring), then read as a router's Run reads them: 100 envelopes in
// one TryNextN from the buffers that have it, else 100 TryNext. ns/op is
// per envelope.
func BenchmarkSetTryNextKeyed(b *testing.B) {
	type bulkReader interface {
		TryNextN(dst [][]byte, n int) [][]byte
	}
	for _, bb := range buffers {
		b.Run(bb.name, func(b *testing.B) {
			d := bb.new(b)
			k, _ := d.(diode.Keyed[[]byte])
			bulk, _ := d.(bulkReader)
			n := len(benchEnvelopes)
			dst := make([][]byte, 0, n)
			b.ReportAllocs()
			b.ResetTimer()
			defer benchcpu.Start(b)()
			for i := 0; i < b.N; i += n {
				if k != nil {
					k.SetBatch(benchEnvelopes, benchIDs)
				} else {
					for _, e := range benchEnvelopes {
						d.Set(e)
					}
				}
				if bulk != nil {
					dst = bulk.TryNextN(dst[:0], n)
					continue
				}
				for range n {
					d.TryNext()
				}
			}
		})
	}
}

// BenchmarkManyToOne: writers from b.RunParallel (ingress streams), one
// reader goroutine using a blocking read, as in package diode's benchmark
// of the same name.
func BenchmarkManyToOne(b *testing.B) {
	for _, bb := range buffers {
		b.Run(bb.name, func(b *testing.B) {
			d := bb.new(b)
			b.ReportAllocs()
			ctx, cancel := context.WithCancel(context.Background())
			var wg sync.WaitGroup
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					if _, err := d.Next(ctx); err != nil {
						return
					}
				}
			}()
			b.ResetTimer()
			stop := benchcpu.Start(b)
			b.RunParallel(func(pb *testing.PB) {
				for i := 0; pb.Next(); i++ {
					d.Set(benchEnvelopes[i%len(benchEnvelopes)])
				}
			})
			stop()
			b.StopTimer()
			cancel()
			wg.Wait()
		})
	}
}

// BenchmarkSourceID is the wire read the limiter and the fair buffer do
// per envelope, beside envelope.ReadRoute's full validation.
func BenchmarkSourceID(b *testing.B) {
	e := benchEnvelopes[0]
	b.Run("SourceID", func(b *testing.B) {
		b.ReportAllocs()
		defer benchcpu.Start(b)()
		for b.Loop() {
			if len(limit.SourceID(e)) != 36 {
				b.Fatal("bad read")
			}
		}
	})
	b.Run("ReadRoute", func(b *testing.B) {
		b.ReportAllocs()
		defer benchcpu.Start(b)()
		for b.Loop() {
			if r, err := envelope.ReadRoute(e); err != nil || len(r.SourceID) != 36 {
				b.Fatal("bad read")
			}
		}
	})
}

// BenchmarkSetParts breaks a Limiter's Set down, cumulatively: the
// source ID read, then its hash, then a mutex around a table lookup as the
// Limiter takes it, then the whole Set in front of a buffer that discards
// (diode.Nop, one atomic add), so the ns each step adds can be read off.
func BenchmarkSetParts(b *testing.B) {
	var sink uint64
	seed := diode.NewKeySeed()
	var mu sync.Mutex
	parts := []struct {
		name string
		set  func(e []byte)
	}{
		{"SourceID", func(e []byte) { sink += uint64(len(limit.SourceID(e))) }},
		{"SourceID+hash", func(e []byte) { sink += seed.Hash(limit.SourceID(e)) }},
		{"SourceID+hash+mutex", func(e []byte) {
			h := seed.Hash(limit.SourceID(e))
			mu.Lock()
			sink += h
			mu.Unlock()
		}},
		{"Limiter+Nop", limiter(b, diode.Discard[[]byte]()).Set},
	}
	for _, p := range parts {
		b.Run(p.name, func(b *testing.B) {
			b.ReportAllocs()
			defer benchcpu.Start(b)()
			i := 0
			for b.Loop() {
				p.set(benchEnvelopes[i%len(benchEnvelopes)])
				i++
			}
		})
	}
}
