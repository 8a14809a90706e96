package discovery_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sluicelog/sluice/discovery"
)

// addrs returns the sorted identities of a state's endpoints.
func keys(s discovery.State) []string {
	out := []string{}
	for _, e := range s.Endpoints {
		out = append(out, e.Key())
	}
	return out
}

// waitKeys waits until src reports exactly want (with no error) and returns
// how long that took.
func waitKeys(t *testing.T, src discovery.Source, within time.Duration, want ...string) time.Duration {
	t.Helper()
	if want == nil {
		want = []string{}
	}
	start := time.Now()
	require.Eventually(t, func() bool {
		s := src.State()
		return s.Err == nil && equal(keys(s), want)
	}, within, 10*time.Millisecond, "want %v, last state %+v", want, src.State())
	return time.Since(start)
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// next receives from ch or fails after d.
func next(t *testing.T, ch <-chan discovery.State, d time.Duration) discovery.State {
	t.Helper()
	select {
	case s, ok := <-ch:
		require.True(t, ok, "channel closed")
		return s
	case <-time.After(d):
		t.Fatalf("no state within %v", d)
		return discovery.State{}
	}
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	return ctx
}
