package draintest

import (
	"context"
	"fmt"
	"sync"
)

// store keeps parsed messages and wakes waiters; Server and HTTPHandler
// embed it.
type store struct {
	mu        sync.Mutex
	cond      chan struct{} // closed and replaced whenever something arrives
	msgs      []Message
	malformed int
}

func newStore() store { return store{cond: make(chan struct{})} }

// addLocked records one parsed frame (m nil: malformed); s.mu is held.
func (s *store) addLocked(m *Message) {
	if m == nil {
		s.malformed++
	} else {
		s.msgs = append(s.msgs, *m)
	}
	close(s.cond)
	s.cond = make(chan struct{})
}

// Messages returns a copy of every message received so far, in order of
// arrival.
func (s *store) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.msgs...)
}

// Malformed counts frames or messages that could not be read or parsed.
func (s *store) Malformed() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.malformed
}

// Wait waits until at least n messages have arrived, or ctx ends.
func (s *store) Wait(ctx context.Context, n int) error {
	for {
		s.mu.Lock()
		got, ch := len(s.msgs), s.cond
		s.mu.Unlock()
		if got >= n {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("draintest: %d of %d messages: %w", got, n, ctx.Err())
		case <-ch:
		}
	}
}
