package lifecycle_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/sluicelog/sluice/internal/lifecycle"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestCloseWaitsAndRunsFinalOnce(t *testing.T) {
	var returned atomic.Bool
	r := lifecycle.Start(func(ctx context.Context) {
		<-ctx.Done()
		returned.Store(true)
	})
	finals := 0
	final := func() {
		assert.True(t, returned.Load(), "final runs after the goroutine returned")
		finals++
	}
	require.NoError(t, r.Close(final))
	assert.True(t, returned.Load())
	require.NoError(t, r.Close(final))
	assert.Equal(t, 1, finals)
}

func TestStopGivesUpWhenCtxEnds(t *testing.T) {
	release := make(chan struct{})
	r := lifecycle.Start(func(context.Context) { <-release }) // ignores its ctx
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	require.ErrorIs(t, r.Stop(ctx), context.DeadlineExceeded)
	close(release)
	require.NoError(t, r.Stop(context.Background()))
	require.NoError(t, r.Close(nil))
}
