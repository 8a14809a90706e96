package main

import (
	"flag"
	"time"

	"github.com/sluicelog/sluice/ingress"
)

// DefaultWaitWhenFull is the router's -wait-when-full. On: measured with
// examples/routerbench (5 s runs, alternating builds, 2 shared cores), flat
// out over 4 sender streams the router delivered about 4 times as much at
// a fifth of the CPU per million delivered, because it no longer decrypts
// and validates what its ingress buffer then drops; over 1 stream and at
// 300k offered it did no worse. 50 ms is far longer than the reader takes
// to make room for a few batches (well under a millisecond at 300k/s) and
// short enough that a stalled reader slows each stream to at most one
// batch per 50 ms before the fair buffer decides; 10 ms measured the same.
const DefaultWaitWhenFull = 50 * time.Millisecond

// edgeFlags are the flags of the router's behaviour at the ingress edge
// when it is offered more than it can route.
type edgeFlags struct {
	waitWhenFull time.Duration
}

func (e *edgeFlags) Flags(fs *flag.FlagSet) {
	fs.DurationVar(&e.waitWhenFull, "wait-when-full", DefaultWaitWhenFull, "how long an ingress stream whose last batch left the ingress buffer (fair policy) without room for another waits for room before reading its next batch; meanwhile HTTP/2 flow control pushes back on the sender, which drops and counts at its edge; woken by the router's reads, counted ingress_waits; after it the batch is taken in and the fair buffer drops as always (0: never wait, take every batch in and let the buffer drop)")
}

// IngressOptions returns the ingress server options the flags ask for.
func (e *edgeFlags) IngressOptions() []ingress.ServerOption {
	if e.waitWhenFull > 0 {
		return []ingress.ServerOption{ingress.WithWaitWhenFull(e.waitWhenFull)}
	}
	return nil
}
