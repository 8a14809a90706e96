package diode_test

import (
	"fmt"

	"github.com/sluicelog/sluice/diode"
)

// Two buffers share a pool of 1 KiB, each allowed up to 800 bytes of it:
// the first takes 800, so the second has room for 200 only until the first
// is read.
func ExampleWithBytePool() {
	pool, err := diode.NewBytePool(1024)
	if err != nil {
		panic(err)
	}
	mk := func() *diode.OneToOne[[]byte] {
		d, err := diode.NewOneToOne[[]byte](100,
			diode.WithMaxBytes(800, diode.Len), diode.WithBytePool(pool, diode.Len))
		if err != nil {
			panic(err)
		}
		return d
	}
	a, b := mk(), mk()
	for range 8 {
		a.Set(make([]byte, 100))
	}
	for range 4 {
		b.Set(make([]byte, 100))
	}
	fmt.Println("pool holds", pool.Held(), "of", pool.Max())
	fmt.Printf("b: %+v\n", b.Stats())
	for _, ok := a.TryNext(); ok; _, ok = a.TryNext() {
	}
	b.Release() // b is thrown away: its bytes go back
	fmt.Println("pool holds", pool.Held())
	// Output:
	// pool holds 1000 of 1024
	// b: {Written:4 Read:0 Dropped:2 Collisions:0 Bytes:200}
	// pool holds 0
}
