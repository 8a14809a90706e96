package diode_test

import (
	"context"
	"fmt"
	"time"

	"github.com/sluicelog/sluice/diode"
)

// A writer that would rather wait than make a full Fair buffer drop asks
// for room; the reader's reads wake it as soon as there is room.
func ExampleFair_WaitRoom() {
	f, err := diode.NewFair(4, func(s string) string { return s })
	if err != nil {
		panic(err)
	}
	for range 4 {
		f.Set("a")
	}
	ctx := context.Background()
	fmt.Println("room for 2 at once:", f.WaitRoom(ctx, 2, 0, 0))

	woken := make(chan bool)
	go func() { woken <- f.WaitRoom(ctx, 2, 0, time.Minute) }()
	f.TryNext()
	f.TryNext()
	fmt.Println("room for 2 after two reads:", <-woken)
	fmt.Println("room for 3 within 10 ms (capped at half the buffer: 2):", f.WaitRoom(ctx, 3, 0, 10*time.Millisecond))
	// Output:
	// room for 2 at once: false
	// room for 2 after two reads: true
	// room for 3 within 10 ms (capped at half the buffer: 2): true
}
