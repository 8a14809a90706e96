package forward

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/sluicelog/sluice/diode"
)

// Fan-out errors.
var (
	// ErrFanoutRunning is returned by Run while the fan-out runs.
	ErrFanoutRunning = errors.New("forward: fan-out already running")
)

// FanoutDestination is one destination of a Fanout: a name for its counters
// and the buffer (normally a diode) in front of it, read by the destination's
// own reader, for example a Forwarder.
type FanoutDestination struct {
	Name   string
	Buffer diode.Buffer[[]byte]
}

// FanoutStats is a snapshot of a Fanout's counters.
type FanoutStats struct {
	// Read counts the envelopes read from the source buffer.
	Read uint64
	// Destinations holds each destination buffer's counters by name: its
	// Dropped counts the copies that destination lost because it was slow
	// (dropped{direction=egress} for that destination).
	Destinations map[string]diode.Stats
}

// Fanout copies one buffer into several, as Loggregator's forwarder agent
// does: every envelope read from the source is set into each destination's
// buffer. Buffers never block their writer, so a slow destination drops its
// own copies (counted by its buffer, per destination) and never slows the
// others. The copies share the envelope's bytes, which nobody in sluice
// modifies; a destination that wants to change them must copy first.
type Fanout struct {
	src     diode.Buffer[[]byte]
	dsts    []FanoutDestination
	read    atomic.Uint64
	running atomic.Bool
}

// NewFanout returns a Fanout from src to dsts (at least one; names unique);
// Run starts it.
func NewFanout(src diode.Buffer[[]byte], dsts ...FanoutDestination) (*Fanout, error) {
	if src == nil || len(dsts) == 0 {
		return nil, fmt.Errorf("%w: a source and at least one destination are required", ErrInvalidConfig)
	}
	seen := make(map[string]bool, len(dsts))
	for _, d := range dsts {
		if d.Buffer == nil || seen[d.Name] {
			return nil, fmt.Errorf("%w: destination %q without buffer or named twice", ErrInvalidConfig, d.Name)
		}
		seen[d.Name] = true
	}
	return &Fanout{src: src, dsts: append([]FanoutDestination(nil), dsts...)}, nil
}

// Run copies until ctx ends, then copies what src still holds and returns
// nil. It returns ErrFanoutRunning when already running.
func (f *Fanout) Run(ctx context.Context) error {
	if !f.running.CompareAndSwap(false, true) {
		return ErrFanoutRunning
	}
	defer f.running.Store(false)
	for {
		v, ok := f.src.TryNext()
		if !ok {
			var err error
			if v, err = f.src.Next(ctx); err != nil {
				break
			}
		}
		f.copy(v)
	}
	for {
		v, ok := f.src.TryNext()
		if !ok {
			return nil
		}
		f.copy(v)
	}
}

func (f *Fanout) copy(v []byte) {
	f.read.Add(1)
	for _, d := range f.dsts {
		d.Buffer.Set(v)
	}
}

// Stats returns a snapshot of the counters.
func (f *Fanout) Stats() FanoutStats {
	st := FanoutStats{Read: f.read.Load(), Destinations: make(map[string]diode.Stats, len(f.dsts))}
	for _, d := range f.dsts {
		st.Destinations[d.Name] = d.Buffer.Stats()
	}
	return st
}
