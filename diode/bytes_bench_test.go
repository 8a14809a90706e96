package diode

import (
	"testing"

	"github.com/sluicelog/sluice/internal/benchcpu"
)

// BenchmarkSetTryNextBytes is BenchmarkSetTryNext for buffers bounded in
// bytes too (WithMaxBytes, a bound that holds 1,024 payloads): what the
// byte count costs per element against the unbounded figures.
func BenchmarkSetTryNextBytes(b *testing.B) {
	bound := WithMaxBytes(int64(1024*len(payload(0))), Len)
	benchSetTryNextKinds(b, []benchKind{
		{"sluice", func() (Buffer[[]byte], error) { return NewOneToOne[[]byte](1024, bound) }},
		{"manytoone", func() (Buffer[[]byte], error) { return NewManyToOne[[]byte](1024, bound) }},
		{"channel", func() (Buffer[[]byte], error) { return NewChannel[[]byte](1024, bound) }},
		{"fair", func() (Buffer[[]byte], error) { return NewFair(1024, payloadKey, bound) }},
	})
}

// benchKind is a buffer kind for benchSetTryNextKinds.
type benchKind struct {
	name string
	make func() (Buffer[[]byte], error)
}

// benchSetTryNextKinds runs a Set then a TryNext per iteration on a new
// buffer of each kind.
func benchSetTryNextKinds(b *testing.B, kinds []benchKind) {
	for _, k := range kinds {
		b.Run(k.name, func(b *testing.B) {
			b.ReportAllocs()
			d, err := k.make()
			if err != nil {
				b.Fatal(err)
			}
			defer benchcpu.Start(b)()
			for i := range b.N {
				d.Set(payload(i))
				d.TryNext()
			}
		})
	}
}
