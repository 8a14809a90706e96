package backoff

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestDelayGrowsWithinBounds(t *testing.T) {
	p := Policy{Base: 10 * time.Millisecond, Max: 80 * time.Millisecond, Factor: 2}
	wantMax := []time.Duration{10, 20, 40, 80, 80, 80}
	for attempt, m := range wantMax {
		m *= time.Millisecond
		for range 100 {
			d := p.Delay(attempt)
			assert.GreaterOrEqual(t, d, m/2, "attempt %d", attempt)
			assert.LessOrEqual(t, d, m, "attempt %d", attempt)
		}
	}
}

func TestZeroPolicyDefaults(t *testing.T) {
	var p Policy
	d := p.Delay(0)
	assert.GreaterOrEqual(t, d, 50*time.Millisecond)
	assert.LessOrEqual(t, d, 100*time.Millisecond)
	assert.LessOrEqual(t, p.Delay(1000), 10*time.Second)
}

func TestJitter(t *testing.T) {
	for range 100 {
		d := Jitter(time.Second, 0.2)
		assert.GreaterOrEqual(t, d, 800*time.Millisecond)
		assert.LessOrEqual(t, d, 1200*time.Millisecond)
	}
	assert.Equal(t, time.Second, Jitter(time.Second, 0))
}

func TestSleep(t *testing.T) {
	assert.True(t, Sleep(context.Background(), time.Millisecond))
	assert.True(t, Sleep(context.Background(), 0))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	start := time.Now()
	assert.False(t, Sleep(ctx, time.Hour), "a cancelled context ends the sleep")
	assert.Less(t, time.Since(start), time.Minute)
	assert.False(t, Sleep(ctx, 0))
}
