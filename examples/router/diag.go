package main

import (
	"flag"
	"fmt"
	"os"
	"runtime/trace"
)

// diagnostics holds the flags that record what the router's goroutines do
// (kept apart from the tuning flags).
type diagnostics struct {
	trace string
}

func (d *diagnostics) Flags(fs *flag.FlagSet) {
	fs.StringVar(&d.trace, "trace", "", "write an execution trace (runtime/trace, for go tool trace) of the whole run to this file; it costs CPU and grows by megabytes a second under load")
}

// Start starts what the flags ask for and returns the function that stops
// it and closes its files.
func (d *diagnostics) Start() (stop func(), err error) {
	if d.trace == "" {
		return func() {}, nil
	}
	f, err := os.Create(d.trace)
	if err != nil {
		return nil, err
	}
	if err := trace.Start(f); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("trace: %w", err)
	}
	return func() { trace.Stop(); _ = f.Close() }, nil
}
