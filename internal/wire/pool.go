package wire

import (
	"math/bits"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/experimental"
	"google.golang.org/grpc/mem"
)

// Pool is a mem.BufferPool like grpc's default (sizes in powers of two
// from 256 bytes to 1 MiB, pooled) that does not zero the buffers it hands
// out. grpc's default clears every buffer on Get; on a router that was
// about 5% of the CPU (the data frames it reads, the messages it writes),
// and every use grpc and this package make of a pooled buffer overwrites
// the length it asked for before reading it (a data frame is read in
// full, a message is copied or marshaled in).
var Pool mem.BufferPool = newPool()

const (
	poolMinShift = 8  // 256 bytes
	poolMaxShift = 20 // 1 MiB
)

type dirtyPool struct {
	tiers [poolMaxShift - poolMinShift + 1]sync.Pool
}

func newPool() *dirtyPool { return &dirtyPool{} }

// tier returns the index of the smallest tier holding n bytes, or -1 when
// n is larger than the largest.
func tier(n int) int {
	if n <= 1<<poolMinShift {
		return 0
	}
	shift := bits.Len(uint(n - 1))
	if shift > poolMaxShift {
		return -1
	}
	return shift - poolMinShift
}

// Get implements mem.BufferPool: a buffer of length n whose contents are
// whatever was there.
func (p *dirtyPool) Get(n int) *[]byte {
	t := tier(n)
	if t < 0 {
		b := make([]byte, n)
		return &b
	}
	if b, ok := p.tiers[t].Get().(*[]byte); ok {
		*b = (*b)[:n]
		return b
	}
	b := make([]byte, n, 1<<(t+poolMinShift))
	return &b
}

// Put implements mem.BufferPool. Buffers not made by Get (a capacity that
// is not a tier's) are left to the garbage collector.
func (p *dirtyPool) Put(b *[]byte) {
	c := cap(*b)
	t := tier(c)
	if t < 0 || c != 1<<(t+poolMinShift) {
		return
	}
	p.tiers[t].Put(b)
}

// PoolServerOption makes a grpc.Server read and write through Pool.
func PoolServerOption() grpc.ServerOption { return experimental.BufferPool(Pool) }

// PoolDialOption makes a client connection read and write through Pool.
func PoolDialOption() grpc.DialOption { return experimental.WithBufferPool(Pool) }
