package discovery

import (
	"context"
	"time"
)

// Static is a Source with a fixed list of endpoints that can be replaced at
// run time with Set. A static list is true by definition: State reports it
// as confirmed now.
type Static struct {
	pub *publisher
}

var _ Source = (*Static)(nil)

// NewStatic returns a Static source holding eps.
func NewStatic(eps ...Endpoint) *Static {
	return &Static{pub: newPublisher(State{Endpoints: normalize(eps), Confirmed: time.Now()})}
}

// Set replaces the endpoint set and notifies subscribers if it changed.
func (s *Static) Set(eps ...Endpoint) {
	now := time.Now()
	set := normalize(eps)
	s.pub.update(func(State) State { return State{Endpoints: set, Confirmed: now} })
}

// State returns the current set, confirmed now.
func (s *Static) State() State {
	st := s.pub.get()
	st.Confirmed = time.Now()
	return st
}

// Subscribe sends the current set at once and then every change made with
// Set. The channel is closed when ctx ends.
func (s *Static) Subscribe(ctx context.Context) <-chan State {
	return s.pub.subscribe(ctx)
}
