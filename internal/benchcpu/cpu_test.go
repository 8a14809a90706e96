package benchcpu_test

import (
	"testing"

	"github.com/sluicelog/sluice/internal/benchcpu"
)

func BenchmarkSpin(b *testing.B) {
	defer benchcpu.Start(b)()
	x := 0
	for i := range b.N {
		x += i * i
	}
	_ = x
}

// A benchmark that spins reports a positive CPU time per operation.
func TestStartReports(t *testing.T) {
	r := testing.Benchmark(BenchmarkSpin)
	if r.Extra[benchcpu.Metric] <= 0 {
		t.Fatalf("no %s in %v", benchcpu.Metric, r.Extra)
	}
}
