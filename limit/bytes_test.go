package limit_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sluicelog/sluice/limit"
)

// BufferConfig.MaxBytes bounds either policy in wire bytes: with room for
// 1,000 envelopes but bytes for 10, the eleventh is shed and counted.
func TestNewBufferMaxBytes(t *testing.T) {
	e := env(t, "noisy")
	for _, p := range []limit.Policy{limit.PolicyRing, limit.PolicyFair} {
		t.Run(string(p), func(t *testing.T) {
			b, err := limit.NewBuffer(limit.BufferConfig{Policy: p, Size: 1000, MaxBytes: int64(10 * len(e))})
			require.NoError(t, err)
			defer b.Close()
			for range 15 {
				b.Set(e)
			}
			s := b.Stats()
			assert.Equal(t, uint64(15), s.Written)
			assert.Equal(t, uint64(5), s.Dropped)
			assert.Equal(t, uint64(10*len(e)), s.Bytes)
			n := 0
			for {
				if _, ok := b.TryNext(); !ok {
					break
				}
				n++
			}
			assert.Equal(t, 10, n)
			s = b.Stats()
			assert.Equal(t, s.Written, s.Read+s.Dropped)
			assert.Zero(t, s.Bytes)
		})
	}
	_, err := limit.NewBuffer(limit.BufferConfig{MaxBytes: -1})
	assert.ErrorIs(t, err, limit.ErrInvalidConfig)
}
