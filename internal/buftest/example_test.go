package buftest_test

import (
	"fmt"

	"github.com/sluicelog/sluice/diode"
	"github.com/sluicelog/sluice/internal/buftest"
)

func ExampleDrain() {
	buf, err := diode.NewOneToOne[string](4)
	if err != nil {
		panic(err)
	}
	buf.Set("a")
	buf.Set("b")
	fmt.Println(buftest.Drain(buf), buftest.Drain(buf) == nil)
	// Output: [a b] true
}
