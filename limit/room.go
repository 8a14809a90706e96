package limit

import (
	"context"
	"time"
)

// WaitRoom waits until the policy's buffer has room for n more envelopes of
// size bytes in all, up to timeout or until ctx is done, and reports
// whether it has (see diode.Fair.WaitRoom). Only the fair policy's buffer
// can be waited on: with a ring, which takes every envelope and drops
// laps, WaitRoom returns true at once.
func (b *Buffer) WaitRoom(ctx context.Context, n int, size int64, timeout time.Duration) bool {
	w, ok := b.inner.(interface {
		WaitRoom(context.Context, int, int64, time.Duration) bool
	})
	return !ok || w.WaitRoom(ctx, n, size, timeout)
}
