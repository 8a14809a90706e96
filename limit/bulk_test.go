package limit_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sluicelog/sluice/limit"
)

// A Buffer of every policy, with and without limits, hands over with
// TryNextN exactly what TryNext hands over, in the same order.
func TestBufferTryNextN(t *testing.T) {
	envs := make([][]byte, 300)
	for i := range envs {
		envs[i] = env(t, fmt.Sprintf("source-%d", i%7))
	}
	for _, policy := range []limit.Policy{limit.PolicyRing, limit.PolicyFair} {
		for _, limits := range []*limit.Config{nil, {Default: limit.Limit{Rate: 1, Burst: 30}}} {
			t.Run(fmt.Sprintf("%s/limits=%v", policy, limits != nil), func(t *testing.T) {
				build := func() *limit.Buffer {
					b, err := limit.NewBuffer(limit.BufferConfig{Policy: policy, Size: 256, Limits: limits})
					require.NoError(t, err)
					t.Cleanup(func() { _ = b.Close() })
					for _, e := range envs {
						b.Set(e)
					}
					return b
				}
				one, bulk := build(), build()
				var want [][]byte
				for {
					v, ok := one.TryNext()
					if !ok {
						break
					}
					want = append(want, v)
				}
				var got [][]byte
				for {
					n := len(got)
					got = bulk.TryNextN(got, 50)
					if len(got) == n {
						break
					}
				}
				require.Equal(t, want, got)
				st := bulk.Stats()
				require.Equal(t, one.Stats(), st)
				require.Equal(t, st.Written, st.Read+st.Dropped)
				require.Equal(t, uint64(300), st.Written)
				switch {
				case limits != nil:
					require.Equal(t, 7*30, len(got), "a burst of 30 per source passes, and fits")
				case policy == limit.PolicyFair:
					require.Equal(t, 256, len(got), "the fair buffer keeps what it holds")
				}
			})
		}
	}
}
