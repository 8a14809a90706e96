package lifecycle

import (
	"context"
	"sync"
)

// Runner is one goroutine running until it is stopped.
type Runner struct {
	cancel context.CancelFunc
	done   chan struct{}
	closed sync.Once
}

// Start runs f on a new goroutine with a context that Stop and Close
// cancel. f must return soon after its context ends.
func Start(f func(ctx context.Context)) *Runner {
	ctx, cancel := context.WithCancel(context.Background())
	r := &Runner{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		f(ctx)
	}()
	return r
}

// Stop cancels the goroutine's context and waits for it to return, or for
// ctx to end, whose error it then returns.
func (r *Runner) Stop(ctx context.Context) error {
	r.cancel()
	select {
	case <-r.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close cancels the goroutine's context, waits for it to return and then
// calls final (which may be nil), the first time only. Later calls wait for
// the first to finish and return nil.
func (r *Runner) Close(final func()) error {
	r.closed.Do(func() {
		r.cancel()
		<-r.done
		if final != nil {
			final()
		}
	})
	return nil
}
