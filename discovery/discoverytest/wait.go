package discoverytest

import (
	"slices"
	"testing"
	"time"

	"github.com/sluicelog/sluice/discovery"
)

// Keys returns the identities (Endpoint.Key) of a state's endpoints, in the
// state's order (sorted, for a discovery source); never nil.
func Keys(s discovery.State) []string {
	out := []string{}
	for _, e := range s.Endpoints {
		out = append(out, e.Key())
	}
	return out
}

// WaitKeys waits until src reports exactly the endpoints want (by Key, in
// sorted order) with no error, and returns how long that took. It fails the
// test when that does not happen within the given time, which should be
// generous: it only bounds a hang.
func WaitKeys(t testing.TB, src discovery.Source, within time.Duration, want ...string) time.Duration {
	t.Helper()
	if want == nil {
		want = []string{}
	}
	start := time.Now()
	deadline := time.NewTimer(within)
	defer deadline.Stop()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		s := src.State()
		if s.Err == nil && slices.Equal(Keys(s), want) {
			return time.Since(start)
		}
		select {
		case <-deadline.C:
			s := src.State()
			t.Fatalf("discoverytest: want endpoints %v within %v, last state: %v (error %v)", want, within, Keys(s), s.Err)
			return 0
		case <-tick.C:
		}
	}
}

// Next receives the next State from a channel that Source.Subscribe
// returned, and fails the test when none comes within the given time or the
// channel is closed.
func Next(t testing.TB, ch <-chan discovery.State, within time.Duration) discovery.State {
	t.Helper()
	timer := time.NewTimer(within)
	defer timer.Stop()
	select {
	case s, ok := <-ch:
		if !ok {
			t.Fatalf("discoverytest: subscription channel closed")
		}
		return s
	case <-timer.C:
		t.Fatalf("discoverytest: no state within %v", within)
		return discovery.State{}
	}
}
