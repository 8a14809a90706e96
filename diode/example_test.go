package diode_test

import (
	"context"
	"fmt"

	"github.com/sluicelog/sluice/diode"
)

// A OneToOne diode keeps the newest data: when the writer laps the reader,
// the reader skips what it missed and the alert reports how many.
func ExampleOneToOne() {
	d, err := diode.NewOneToOne[string](3, diode.WithAlert(func(missed int) {
		fmt.Println("dropped", missed)
	}))
	if err != nil {
		panic(err)
	}
	for _, s := range []string{"a", "b", "c", "d", "e"} {
		d.Set(s)
	}
	for {
		v, ok := d.TryNext()
		if !ok {
			break
		}
		fmt.Println(v)
	}
	fmt.Printf("%+v\n", d.Stats())
	// Output:
	// dropped 3
	// d
	// e
	// {Written:5 Read:2 Dropped:3 Collisions:0 Bytes:0}
}

// A Channel keeps the oldest data: a write into a full buffer is refused,
// and the next read reports it.
func ExampleChannel() {
	d, err := diode.NewChannel[int](2, diode.WithAlert(func(missed int) {
		fmt.Println("dropped", missed)
	}))
	if err != nil {
		panic(err)
	}
	for i := range 5 {
		d.Set(i)
	}
	ctx := context.Background()
	for range 2 {
		v, err := d.Next(ctx)
		if err != nil {
			panic(err)
		}
		fmt.Println(v)
	}
	fmt.Printf("%+v\n", d.Stats())
	// Output:
	// dropped 3
	// 0
	// 1
	// {Written:5 Read:2 Dropped:3 Collisions:0 Bytes:0}
}

// Components take a Buffer; the caller picks the policy. Next blocks until
// data arrives or the context ends.
func ExampleBuffer() {
	var b diode.Buffer[[]byte]
	b, err := diode.NewManyToOne[[]byte](10_000)
	if err != nil {
		panic(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			msg, err := b.Next(ctx)
			if err != nil {
				fmt.Println("reader stops:", err)
				return
			}
			fmt.Printf("got %s\n", msg)
			if string(msg) == "last" {
				cancel()
			}
		}
	}()
	b.Set([]byte("first"))
	b.Set([]byte("last"))
	<-done
	// Output:
	// got first
	// got last
	// reader stops: context canceled
}

func ExampleNewOneToOne_invalidSize() {
	_, err := diode.NewOneToOne[int](0)
	fmt.Println(err)
	// Output: diode: invalid configuration: size must be at least 1
}

func ExampleDiscard() {
	b := diode.Discard[[]byte]()
	b.Set([]byte("gone"))
	_, ok := b.TryNext()
	fmt.Println(ok, b.Stats().Dropped)
	// Output: false 1
}

// A Fair buffer drops from the source that holds the most, and the reader
// takes the sources in turn.
func ExampleFair() {
	src := func(s string) string { return s[:1] } // "a1" belongs to source "a"
	d, err := diode.NewFair(4, src, diode.WithAlert(func(missed int) {
		fmt.Println("dropped", missed)
	}))
	if err != nil {
		panic(err)
	}
	for _, s := range []string{"a1", "a2", "a3", "a4", "b1", "a5", "c1"} {
		d.Set(s)
	}
	for {
		v, ok := d.TryNext()
		if !ok {
			break
		}
		fmt.Println(v)
	}
	fmt.Printf("%+v\n", d.Stats())
	// Output:
	// dropped 3
	// a4
	// b1
	// c1
	// a5
	// {Written:7 Read:4 Dropped:3 Collisions:0 Bytes:0}
}
