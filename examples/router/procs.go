package main

import (
	"flag"
	"fmt"
	"runtime"
)

// procsFlag is the router's -procs: how many OS threads may run the
// program's Go code at once (GOMAXPROCS).
//
// Measured with examples/routerbench on a 2-core machine (4 sender
// streams, one subscriber): with one P the router spent about a fifth less
// CPU per envelope at 300k offered, because every hand-off between its
// goroutines (ingress stream, routing, subscription, egress stream, gRPC's
// writers) stays on one thread instead of waking the other, and flat out it
// delivered more of what it took in. With two it has twice the CPU to
// spend when the machine has it to give. The default stays Go's (the
// number of CPUs, or the container's quota): which is better depends on
// what else runs on the machine, so it is the operator's choice.
type procsFlag struct {
	n int
}

func (p *procsFlag) Flags(fs *flag.FlagSet) {
	fs.IntVar(&p.n, "procs", 0, "OS threads that run the router's Go code at once (GOMAXPROCS; 0: Go's default, the CPUs the process may use); 1 spends less CPU per envelope on hand-offs between goroutines but caps the router at one core")
}

// Apply sets GOMAXPROCS when -procs asks for it and returns the value in
// effect.
func (p *procsFlag) Apply() (int, error) {
	if p.n < 0 {
		return 0, fmt.Errorf("-procs %d: must be 0 (Go's default) or more", p.n)
	}
	if p.n > 0 {
		runtime.GOMAXPROCS(p.n)
	}
	return runtime.GOMAXPROCS(0), nil
}
