package diode

import (
	"context"
	"fmt"
	"io"
	"log"
	"sync"
	"testing"
	"unsafe"

	diodes "code.cloudfoundry.org/go-diodes"

	"github.com/sluicelog/sluice/internal/benchcpu"
)

// benchSize is Loggregator's default ingress diode size.
const benchSize = 10_000

var benchPayloads = func() [][]byte {
	p := make([][]byte, 5)
	for i := range p {
		p[i] = make([]byte, 100)
		p[i][0] = byte(i)
	}
	return p
}()

func payload(i int) []byte { return benchPayloads[i%len(benchPayloads)] }

// payloadKey is the Fair buffer's key in the benchmarks: the first 36
// bytes, as long as a source ID (an app GUID). The five payloads are five
// sources.
func payloadKey(p []byte) string { return unsafe.String(&p[0], 36) }

// quietLog silences go-diodes' "Diode set collision" log lines for the
// duration of one benchmark.
func quietLog(b *testing.B) {
	w := log.Writer()
	log.SetOutput(io.Discard)
	b.Cleanup(func() { log.SetOutput(w) })
}

// writeAsync resets the timer and calls set(0) .. set(b.N-1) on a new
// goroutine; the returned func waits for it.
func writeAsync(b *testing.B, set func(i int)) (wait func()) {
	var wg sync.WaitGroup
	wg.Add(1)
	b.ResetTimer()
	go func() {
		defer wg.Done()
		for i := range b.N {
			set(i)
		}
	}()
	return wg.Wait
}

// BenchmarkOneToOne: one writer goroutine, one reader goroutine using a
// blocking read, b.N items through (read or counted as dropped).
func BenchmarkOneToOne(b *testing.B) {
	// one writer goroutine, the reader on the benchmark's goroutine; the
	// alert's counts and the reads account for every item.
	oneToOne := func(b *testing.B, newBuf func(AlertFunc) Buffer[[]byte]) {
		b.ReportAllocs()
		var accounted int // reader goroutine only
		d := newBuf(func(n int) { accounted += n })
		ctx := context.Background()
		wait := writeAsync(b, func(i int) { d.Set(payload(i)) })
		for accounted < b.N {
			if _, err := d.Next(ctx); err != nil {
				b.Fatal(err)
			}
			accounted++
		}
		wait()
	}
	b.Run("sluice", func(b *testing.B) {
		oneToOne(b, func(a AlertFunc) Buffer[[]byte] {
			d, _ := NewOneToOne[[]byte](benchSize, WithAlert(a))
			return d
		})
	})
	b.Run("fair", func(b *testing.B) {
		oneToOne(b, func(a AlertFunc) Buffer[[]byte] {
			d, _ := NewFair(benchSize, payloadKey, WithAlert(a))
			return d
		})
	})
	b.Run("godiodes", func(b *testing.B) {
		b.ReportAllocs()
		var accounted int
		d := diodes.NewWaiter(diodes.NewOneToOne(benchSize, diodes.AlertFunc(func(n int) { accounted += n })))
		wait := writeAsync(b, func(i int) {
			d.Set(diodes.GenericDataType(unsafe.Pointer(&benchPayloads[i%len(benchPayloads)])))
		})
		for accounted < b.N {
			d.Next()
			accounted++
		}
		wait()
	})
	b.Run("channel", func(b *testing.B) {
		b.ReportAllocs()
		c := make(chan []byte, benchSize)
		var wg sync.WaitGroup
		wg.Add(1)
		b.ResetTimer()
		go func() {
			defer wg.Done()
			defer close(c)
			for i := range b.N {
				select {
				case c <- payload(i):
				default:
				}
			}
		}()
		for range c {
		}
		wg.Wait()
	})
}

// BenchmarkManyToOne: writers from b.RunParallel, one reader goroutine
// using a blocking read.
func BenchmarkManyToOne(b *testing.B) {
	run := func(b *testing.B, set func(i int), read func(ctx context.Context)) {
		b.ReportAllocs()
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			read(ctx)
		}()
		b.ResetTimer()
		stop := benchcpu.Start(b)
		b.RunParallel(func(pb *testing.PB) {
			for i := 0; pb.Next(); i++ {
				set(i)
			}
		})
		stop()
		b.StopTimer()
		cancel()
		wg.Wait()
	}
	b.Run("sluice", func(b *testing.B) {
		d, _ := NewManyToOne[[]byte](benchSize)
		run(b, func(i int) { d.Set(payload(i)) }, func(ctx context.Context) {
			for {
				if _, err := d.Next(ctx); err != nil {
					return
				}
			}
		})
	})
	b.Run("fair", func(b *testing.B) {
		d, _ := NewFair(benchSize, payloadKey)
		run(b, func(i int) { d.Set(payload(i)) }, func(ctx context.Context) {
			for {
				if _, err := d.Next(ctx); err != nil {
					return
				}
			}
		})
	})
	b.Run("godiodes", func(b *testing.B) {
		quietLog(b)
		wctx, wcancel := context.WithCancel(context.Background())
		defer wcancel()
		d := diodes.NewWaiter(diodes.NewManyToOne(benchSize, nil), diodes.WithWaiterContext(wctx))
		run(b, func(i int) {
			d.Set(diodes.GenericDataType(unsafe.Pointer(&benchPayloads[i%len(benchPayloads)])))
		}, func(ctx context.Context) {
			stop := context.AfterFunc(ctx, wcancel)
			defer stop()
			for d.Next() != nil {
			}
		})
	})
	b.Run("channel", func(b *testing.B) {
		c := make(chan []byte, benchSize)
		run(b, func(i int) {
			select {
			case c <- payload(i):
			default:
			}
		}, func(ctx context.Context) {
			for {
				select {
				case <-c:
				case <-ctx.Done():
					return
				}
			}
		})
	})
}

// BenchmarkSetTryNext: one goroutine alternating a write and a
// non-blocking read.
func BenchmarkSetTryNext(b *testing.B) {
	b.Run("sluice", func(b *testing.B) {
		b.ReportAllocs()
		defer benchcpu.Start(b)()
		d, _ := NewOneToOne[[]byte](1024)
		for i := range b.N {
			d.Set(payload(i))
			d.TryNext()
		}
	})
	b.Run("fair", func(b *testing.B) {
		b.ReportAllocs()
		defer benchcpu.Start(b)()
		d, _ := NewFair(1024, payloadKey)
		for i := range b.N {
			d.Set(payload(i))
			d.TryNext()
		}
	})
	b.Run("godiodes", func(b *testing.B) {
		b.ReportAllocs()
		defer benchcpu.Start(b)()
		d := diodes.NewOneToOne(1024, nil)
		for i := range b.N {
			d.Set(diodes.GenericDataType(unsafe.Pointer(&benchPayloads[i%len(benchPayloads)])))
			d.TryNext()
		}
	})
}

// BenchmarkSetTryNextKeyed: a batch of 100 elements from 100 sources, then
// 100 non-blocking reads, as an ingress server writes: into a ManyToOne
// one Set at a time, into a Fair with the keys given (SetBatch). ns/op is
// per element.
func BenchmarkSetTryNextKeyed(b *testing.B) {
	vs := make([][]byte, 100)
	keys := make([]string, len(vs))
	for i := range vs {
		vs[i] = make([]byte, 100)
		copy(vs[i], fmt.Sprintf("9f1c2b7e-6a41-4d3e-8c55-0b7a2e19%04d", i))
		keys[i] = payloadKey(vs[i])
	}
	run := func(b *testing.B, d Buffer[[]byte], set func()) {
		b.ReportAllocs()
		b.ResetTimer()
		defer benchcpu.Start(b)()
		for i := 0; i < b.N; i += len(vs) {
			set()
			for range vs {
				d.TryNext()
			}
		}
	}
	b.Run("manytoone", func(b *testing.B) {
		d, _ := NewManyToOne[[]byte](benchSize)
		run(b, d, func() {
			for _, v := range vs {
				d.Set(v)
			}
		})
	})
	b.Run("fair", func(b *testing.B) {
		d, _ := NewFair(benchSize, payloadKey)
		run(b, d, func() { d.SetBatch(vs, keys) })
	})
	// As a router's Run reads it: the whole batch in one TryNextN.
	b.Run("fair-bulk", func(b *testing.B) {
		d, _ := NewFair(benchSize, payloadKey)
		dst := make([][]byte, 0, len(vs))
		b.ReportAllocs()
		b.ResetTimer()
		defer benchcpu.Start(b)()
		for i := 0; i < b.N; i += len(vs) {
			d.SetBatch(vs, keys)
			dst = d.TryNextN(dst[:0], len(vs))
		}
	})
}
