package diode_test

import (
	"fmt"

	"github.com/sluicelog/sluice/diode"
)

// A buffer of wire bytes bounded to 10 elements and to 1 KiB: three 400-byte
// messages do not fit, the third is dropped and counted as overflow.
func ExampleWithMaxBytes() {
	d, err := diode.NewOneToOne[[]byte](10, diode.WithMaxBytes(1024, diode.Len),
		diode.WithAlert(func(missed int) { fmt.Println("dropped", missed) }))
	if err != nil {
		panic(err)
	}
	for range 3 {
		d.Set(make([]byte, 400))
	}
	fmt.Println("held", d.Stats().Bytes, "bytes")
	for {
		v, ok := d.TryNext()
		if !ok {
			break
		}
		fmt.Println(len(v))
	}
	fmt.Printf("%+v\n", d.Stats())
	// Output:
	// held 800 bytes
	// dropped 1
	// 400
	// 400
	// {Written:3 Read:2 Dropped:1 Collisions:0 Bytes:0}
}
