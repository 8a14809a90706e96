package diode

import (
	"fmt"
	"testing"

	"github.com/sluicelog/sluice/internal/benchcpu"
)

// BenchmarkFairOverloaded: the fair buffer while it drops, where it keeps
// exact counts. A buffer of 1,000 held full; batches of 100 (half from
// one noisy source, half from 50 steady ones) written with SetBatch, 50
// read with TryNextN after each, so that every batch drops 50 of the
// noisy source's elements. ns/op is per element written.
func BenchmarkFairOverloaded(b *testing.B) {
	vs := make([][]byte, 100)
	keys := make([]string, len(vs))
	for i := range vs {
		src := "noisy"
		if i%2 == 1 {
			src = fmt.Sprint("steady", i/2)
		}
		vs[i] = []byte(src)
		keys[i] = src
	}
	f, err := NewFair(1000, func(v []byte) string { return string(v) })
	if err != nil {
		b.Fatal(err)
	}
	for range 10 {
		f.SetBatch(vs, keys)
	}
	dst := make([][]byte, 0, 50)
	b.ReportAllocs()
	b.ResetTimer()
	defer benchcpu.Start(b)()
	for i := 0; i < b.N; i += len(vs) {
		f.SetBatch(vs, keys)
		dst = f.TryNextN(dst[:0], 50)
	}
	b.StopTimer()
	if st := f.Stats(); st.Dropped == 0 {
		b.Fatal("nothing dropped")
	}
}
