package wire

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// Get hands out the length asked for in the smallest power-of-two tier;
// Put takes back only buffers of a tier's capacity; sizes over the largest
// tier are made to measure and not pooled.
func TestPoolTiers(t *testing.T) {
	p := newPool()
	for _, c := range []struct{ n, cap int }{
		{0, 256}, {1, 256}, {256, 256}, {257, 512}, {16384, 16384}, {16385, 32768}, {24400, 32768}, {1 << 20, 1 << 20},
	} {
		b := p.Get(c.n)
		assert.Len(t, *b, c.n)
		assert.Equal(t, c.cap, cap(*b), c.n)
		p.Put(b)
	}
	big := p.Get(1<<20 + 1)
	assert.Len(t, *big, 1<<20+1)
	assert.Equal(t, 1<<20+1, cap(*big))
	p.Put(big) // dropped, not pooled

	// A foreign buffer (capacity not a tier's) is not pooled: the next Get
	// of that tier never returns it.
	foreign := make([]byte, 300)
	p.Put(&foreign)
	for range 100 {
		b := p.Get(300)
		assert.Equal(t, 512, cap(*b))
	}
}

// Buffers come back without being cleared: a reused buffer keeps its old
// contents (grpc overwrites what it asked for).
func TestPoolDoesNotZero(t *testing.T) {
	p := newPool()
	b := p.Get(4096)
	for i := range *b {
		(*b)[i] = 0xab
	}
	p.Put(b)
	// sync.Pool may drop what it was given; look a few times.
	for range 10 {
		c := p.Get(4096)
		if &(*c)[0] == &(*b)[0] {
			assert.Equal(t, byte(0xab), (*c)[4095])
			return
		}
	}
	t.Skip("sync.Pool dropped the buffer")
}
