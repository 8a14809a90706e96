package diode

import (
	"testing"
)

// BenchmarkSetTryNextPool is BenchmarkSetTryNextBytes with the buffer
// taking its bytes from a shared pool as well (WithBytePool): what the
// pool's two more atomic operations per element cost beside WithMaxBytes
// alone.
func BenchmarkSetTryNextPool(b *testing.B) {
	max := int64(1024 * len(payload(0)))
	pool, err := NewBytePool(4 * max)
	if err != nil {
		b.Fatal(err)
	}
	opts := []Option{WithMaxBytes(max, Len), WithBytePool(pool, Len)}
	benchSetTryNextKinds(b, []benchKind{
		{"sluice", func() (Buffer[[]byte], error) { return NewOneToOne[[]byte](1024, opts...) }},
		{"manytoone", func() (Buffer[[]byte], error) { return NewManyToOne[[]byte](1024, opts...) }},
		{"channel", func() (Buffer[[]byte], error) { return NewChannel[[]byte](1024, opts...) }},
	})
}
