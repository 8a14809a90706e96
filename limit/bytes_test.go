package limit_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sluicelog/sluice/limit"
	"github.com/sluicelog/sluice/stats"
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
			assert.Equal(t, []float64{float64(10 * len(e))}, reported(b, limit.BufferedBytes))
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
	b, err := limit.NewBuffer(limit.BufferConfig{})
	require.NoError(t, err)
	assert.Empty(t, reported(b, limit.BufferedBytes), "no byte bound, no series")
}

// reported returns the values of the series called name that b reports.
func reported(b *limit.Buffer, name string) []float64 {
	var vs []float64
	b.Report(func(m stats.Metric) {
		if m.Name == name {
			vs = append(vs, m.Value)
		}
	})
	return vs
}
