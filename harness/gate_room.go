package harness

import (
	"context"
	"time"
)

// WaitRoom waits for room in the gated buffer (see diode.Fair.WaitRoom),
// so that an ingress server's WithWaitWhenFull works behind a Gate: room is
// made when the reader takes what the Gate allows. A buffer that cannot be
// waited on has room at once.
func (g *Gate[T]) WaitRoom(ctx context.Context, n int, size int64, timeout time.Duration) bool {
	w, ok := g.buf.(interface {
		WaitRoom(context.Context, int, int64, time.Duration) bool
	})
	return !ok || w.WaitRoom(ctx, n, size, timeout)
}
