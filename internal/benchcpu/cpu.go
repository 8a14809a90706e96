package benchcpu

import "testing"

// Metric is the unit Start reports in.
const Metric = "cpu-ns/op"

// Start begins measuring the process's CPU time (user and system); the
// function it returns reports the time since, divided by b.N, as Metric.
// Call it once the benchmark's setup is done, and the returned function
// when its loop has ended:
//
//	defer benchcpu.Start(b)()
//
// Where the platform cannot tell CPU time it reports nothing.
func Start(b *testing.B) (stop func()) {
	start, ok := cpuTime()
	return func() {
		end, ok2 := cpuTime()
		if ok && ok2 && b.N > 0 {
			b.ReportMetric(float64(end-start)/float64(b.N), Metric)
		}
	}
}
