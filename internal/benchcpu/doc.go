// Package benchcpu makes benchmarks report the CPU time they spend per
// operation (cpu-ns/op) beside the wall time of ns/op. On a machine shared
// with other work, ns/op counts the time the benchmark waited for a core;
// cpu-ns/op counts only what the process ran (every goroutine of it, so a
// reader goroutine's work counts too), which keeps comparisons between
// buffers meaningful under load.
package benchcpu
