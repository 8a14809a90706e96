package main

import (
	"flag"
	"time"

	"github.com/sluicelog/sluice/ingress"
)

// edgeFlags are the flags of the router's behaviour at the ingress edge
// when it is offered more than it can route.
type edgeFlags struct {
	waitWhenFull time.Duration
}

func (e *edgeFlags) Flags(fs *flag.FlagSet) {
	fs.DurationVar(&e.waitWhenFull, "wait-when-full", 0, "how long an ingress stream whose last batch left the ingress buffer (fair policy) without room for another waits for room before reading its next batch; meanwhile HTTP/2 flow control pushes back on the sender, which drops and counts at its edge; woken by the router's reads, counted ingress_waits; after it the batch is taken in and the fair buffer drops as always (0: never wait)")
}

// IngressOptions returns the ingress server options the flags ask for.
func (e *edgeFlags) IngressOptions() []ingress.ServerOption {
	if e.waitWhenFull > 0 {
		return []ingress.ServerOption{ingress.WithWaitWhenFull(e.waitWhenFull)}
	}
	return nil
}
