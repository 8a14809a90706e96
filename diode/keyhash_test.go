package diode

import (
	"fmt"
	"math/bits"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The hash of a key depends on the seed, and only on the seed and the key.
func TestKeySeedHash(t *testing.T) {
	a, b := NewKeySeed(), NewKeySeed()
	require.NotEqual(t, a, b)
	key := "9f1c2b7e-6a41-4d3e-8c55-0b7a2e190042"
	assert.Equal(t, a.Hash(key), a.Hash(strings.Clone(key)))
	assert.NotEqual(t, a.Hash(key), b.Hash(key))
	assert.Equal(t, KeySeed{s: 7}.Hash(key), KeySeed{s: 7}.Hash(key))
}

// Every length hashes, and every byte of the key counts: keys of 0 to 100
// bytes, and each of them with any one byte changed, have distinct hashes.
func TestKeySeedHashEveryByte(t *testing.T) {
	s := NewKeySeed()
	seen := map[uint64]string{}
	add := func(k string) {
		h := s.Hash(k)
		prev, dup := seen[h]
		require.False(t, dup, "%q and %q share a hash", prev, k)
		seen[h] = k
	}
	base := strings.Repeat("0123456789abcdef", 7)
	for n := range 101 {
		k := base[:min(n, len(base))] + strings.Repeat("x", max(0, n-len(base)))
		add(k)
		for i := range n {
			b := []byte(k)
			b[i] ^= 0x40
			add(string(b))
		}
	}
}

// Source IDs that differ in a few characters (numbered at the end, as in
// a deployment) have no hash in common, and spread evenly over the slots
// of an index (its low bits): a chi-squared test over 1024 slots.
func TestKeySeedHashSpread(t *testing.T) {
	s := NewKeySeed()
	const n, slots = 200_000, 1024
	seen := make(map[uint64]struct{}, n)
	var count [slots]int
	for i := range n {
		h := s.Hash(fmt.Sprintf("9f1c2b7e-6a41-4d3e-8c55-0b7a2e%06d", i))
		_, dup := seen[h]
		require.False(t, dup, "a collision at %d", i)
		seen[h] = struct{}{}
		count[h%slots]++
	}
	want := float64(n) / slots
	chi2 := 0.0
	for _, c := range count {
		d := float64(c) - want
		chi2 += d * d / want
	}
	// 1023 degrees of freedom: mean 1023, sd about 45; 1300 is 6 sd.
	assert.Less(t, chi2, 1300.0)
	assert.Greater(t, chi2, 750.0, "too even to be a hash")
}

// Changing one bit of the key changes about half of the hash's bits.
func TestKeySeedHashAvalanche(t *testing.T) {
	s := NewKeySeed()
	for _, n := range []int{3, 8, 15, 16, 17, 36, 64} {
		key := []byte(strings.Repeat("a1b2c3d4e5f6g7h8", 4)[:n])
		h := s.Hash(string(key))
		flipped, trials := 0, 0
		for i := range key {
			for b := range 8 {
				key[i] ^= 1 << b
				flipped += bits.OnesCount64(h ^ s.Hash(string(key)))
				trials++
				key[i] ^= 1 << b
			}
		}
		mean := float64(flipped) / float64(trials)
		assert.InDelta(t, 32, mean, 3, "%d-byte key: %.1f bits of 64 change on average", n, mean)
	}
}
