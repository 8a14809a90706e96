package diode

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// WaitRoom returns at once when there is room, and otherwise when the
// reader's reads have made room for what was asked, not before.
func TestFairWaitRoomWokenByReader(t *testing.T) {
	f, err := NewFair(4, itemKey)
	require.NoError(t, err)
	ctx := context.Background()
	assert.True(t, f.WaitRoom(ctx, 2, 0, 0))
	for i := range 4 {
		f.Set(item{"a", i})
	}
	assert.False(t, f.WaitRoom(ctx, 1, 0, 0), "no room, no wait")

	done := make(chan bool, 1)
	go func() { done <- f.WaitRoom(ctx, 2, 0, time.Minute) }()
	require.Eventually(t, func() bool {
		f.mu.Lock()
		defer f.mu.Unlock()
		return f.room.ch != nil
	}, 10*time.Second, time.Millisecond)
	_, ok := f.TryNext()
	require.True(t, ok)
	select {
	case <-done:
		t.Fatal("woken with room for one, asked for two")
	default:
	}
	_, ok = f.TryNext()
	require.True(t, ok)
	assert.True(t, <-done)
	assert.Equal(t, Stats{Written: 4, Read: 2}, f.Stats())
}

// A request is capped at half the buffer; bytes count in a buffer bounded
// in bytes; the wait ends after its timeout or with ctx.
func TestFairWaitRoomBounds(t *testing.T) {
	f, err := NewFair(4, itemKey, WithMaxBytes(40, func(item) int { return 10 }))
	require.NoError(t, err)
	for i := range 3 {
		f.Set(item{"a", i})
	}
	ctx := context.Background()
	assert.True(t, f.WaitRoom(ctx, 1, 10, 0), "one more element of 10 bytes fits")
	assert.False(t, f.WaitRoom(ctx, 100, 0, 0), "100 is capped at 2, which do not fit")
	assert.False(t, f.WaitRoom(ctx, 1, 15, 0), "30+15 bytes > 40")
	assert.False(t, f.WaitRoom(ctx, 1, 1000, 0), "1000 bytes is capped at 20, which do not fit")

	start := time.Now()
	assert.False(t, f.WaitRoom(ctx, 2, 0, 20*time.Millisecond))
	assert.GreaterOrEqual(t, time.Since(start), 20*time.Millisecond)
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	assert.False(t, f.WaitRoom(cctx, 2, 0, time.Minute))
	assert.Equal(t, Stats{Written: 3, Bytes: 30}, f.Stats())
}
