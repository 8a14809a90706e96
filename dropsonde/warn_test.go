package dropsonde

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestWarnLimiter(t *testing.T) {
	w := warnLimiter{every: time.Second}
	t0 := time.Unix(1700000000, 0)
	ok, n := w.allow(t0)
	assert.True(t, ok)
	assert.Equal(t, uint64(0), n)
	for _, d := range []time.Duration{time.Millisecond, 500 * time.Millisecond, time.Second - 1} {
		ok, _ = w.allow(t0.Add(d))
		assert.False(t, ok, "at %v", d)
	}
	ok, n = w.allow(t0.Add(time.Second))
	assert.True(t, ok)
	assert.Equal(t, uint64(3), n, "the three suppressed since the last warning")
	ok, _ = w.allow(t0.Add(time.Second + time.Millisecond))
	assert.False(t, ok)
}
