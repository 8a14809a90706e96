package testserver

import (
	"context"
	"sync"
)

// Signal tells waiters that something changed. The zero value is ready to
// use.
type Signal struct {
	mu sync.Mutex
	ch chan struct{}
}

// C returns a channel that is closed at the next Notify.
func (s *Signal) C() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ch == nil {
		s.ch = make(chan struct{})
	}
	return s.ch
}

// Notify wakes everyone waiting on a channel from C.
func (s *Signal) Notify() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ch != nil {
		close(s.ch)
		s.ch = nil
	}
}

// Wait returns nil once cond is true, checking it at first and after each
// Notify, or ctx's error when ctx ends first.
func (s *Signal) Wait(ctx context.Context, cond func() bool) error {
	for {
		ch := s.C() // before cond: a Notify between the two is not lost
		if cond() {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
