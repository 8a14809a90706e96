package limit

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// The table against a map, through growth and deletions, with hashes
// that collide in their low bits so that probes run long.
func TestTableAgainstMap(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	tab := newTable(2)
	want := map[uint64]int32{}
	var keys []uint64
	for i := range 20_000 {
		if len(keys) > 0 && rng.IntN(3) == 0 {
			j := rng.IntN(len(keys))
			h := keys[j]
			tab.del(h)
			delete(want, h)
			keys[j] = keys[len(keys)-1]
			keys = keys[:len(keys)-1]
		} else if len(keys) < 3000 {
			h := rng.Uint64() &^ 0xff0 // many share their low bits
			if _, ok := want[h]; ok {
				continue
			}
			tab.put(h, int32(i))
			want[h] = int32(i)
			keys = append(keys, h)
		}
		if i%499 == 0 {
			for h, v := range want {
				if got := tab.get(h); got != v {
					t.Fatalf("get(%x) = %d, want %d", h, got, v)
				}
			}
			require.Equal(t, int32(-1), tab.get(rng.Uint64()|1<<63|0x10))
		}
	}
	require.Equal(t, len(want), tab.n)
	require.LessOrEqual(t, 2*tab.n, len(tab.slots))
}
