package diode

import (
	"math/bits"
	"math/rand/v2"
)

// KeySeed seeds the hash under which a Fair buffer files its keys (see
// [Fair.Seed]): 64 random bits, drawn anew for every buffer, so that
// which keys share a hash differs from buffer to buffer and from run to
// run and cannot be chosen by whoever picks the keys without knowing it.
// A writer that files the same keys in tables of its own (a rate limiter)
// can hash each key once for both with Hash.
type KeySeed struct{ s uint64 }

// NewKeySeed returns a new random seed.
func NewKeySeed() KeySeed {
	// math/rand/v2's global generator is seeded from the operating
	// system's randomness when the program starts.
	return KeySeed{s: mix(rand.Uint64()^k0, k1)}
}

// Odd constants of well-mixed bits: the multipliers of wyhash, whose
// construction Hash follows (a 64x64->128-bit multiply, folded).
const (
	k0 = 0xa0761d6478bd642f
	k1 = 0xe7037ed1a0b428db
	k2 = 0x8ebc6af09c88c6e3
)

// Hash returns the 64-bit hash of key under the seed. It reads key 8
// bytes at a time and mixes every 16 bytes with one 64x64-bit multiply
// (the 128-bit product folded by XOR), as wyhash does, so a 36-byte
// source ID costs three multiplies; that is about half the instructions
// of hash/maphash on the same key. It is no cryptographic hash: it
// spreads keys well over a table (every output bit depends on every
// input bit) and makes two keys that share a hash as rare as chance
// (about 2^-64 a pair), but it does not promise that someone who can
// observe the hashes cannot find keys that collide.
func (k KeySeed) Hash(key string) uint64 {
	n := len(key)
	s := k.s
	var a, b uint64
	switch {
	case n > 16:
		// Every 16 bytes but the last 16 (which may overlap them), the
		// last two blocks of 16 written out.
		r := key
		for len(r) > 48 {
			s = mix(le64(r, 0)^k1, le64(r, 8)^s)
			r = r[16:]
		}
		s = mix(le64(r, 0)^k1, le64(r, 8)^s)
		if len(r) > 32 {
			s = mix(le64(r, 16)^k1, le64(r, 24)^s)
		}
		a, b = le64(key, n-16), le64(key, n-8)
	case n >= 8:
		a, b = le64(key, 0), le64(key, n-8)
	case n >= 4:
		a, b = le32(key, 0), le32(key, n-4)
	case n > 0:
		a = uint64(key[0])<<16 | uint64(key[n>>1])<<8 | uint64(key[n-1])
	}
	hi, lo := bits.Mul64(a^k1, b^s)
	return mix(lo^k0^uint64(n), hi^k1)
}

// mix multiplies a and b to 128 bits and folds the halves.
func mix(a, b uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	return hi ^ lo
}

// le64 is the little-endian 64-bit word at s[i:i+8] (one load: the
// compiler combines the byte reads).
func le64(s string, i int) uint64 {
	s = s[i : i+8]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

// le32 is the little-endian 32-bit word at s[i:i+4].
func le32(s string, i int) uint64 {
	s = s[i : i+4]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24
}
