package limit_test

import (
	"fmt"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/sluicelog/sluice/diode"
	"github.com/sluicelog/sluice/envelope"
	"github.com/sluicelog/sluice/limit"
)

func marshal(e *envelope.Envelope) []byte {
	b, err := proto.Marshal(e)
	if err != nil {
		panic(err)
	}
	return b
}

// A Limiter in front of an ingress buffer: the noisy source is held to its
// override, the others to the default, and the summary names who sent and
// who lost the most.
func Example() {
	cfg, err := limit.ParseConfig(strings.NewReader(`
*      100/s burst 10
noisy    5/s burst 5
`))
	if err != nil {
		panic(err)
	}
	sum := limit.NewSummary(limit.DefaultTopK)
	fair, err := limit.NewFair(1000, diode.WithTally(sum.Drops()))
	if err != nil {
		panic(err)
	}
	t0 := time.Unix(0, 0)
	lim, err := limit.New(fair, cfg, limit.WithSummary(sum), limit.WithClock(func() time.Time { return t0 }))
	if err != nil {
		panic(err)
	}
	defer lim.Close()

	noisy := marshal(envelope.NewLog("noisy", []byte("spam")))
	steady := marshal(envelope.NewLog("steady", []byte("hello")))
	for range 100 {
		lim.Set(noisy)
	}
	for range 3 {
		lim.Set(steady)
	}
	for {
		e, ok := lim.TryNext()
		if !ok {
			break
		}
		_ = e // forward it
	}
	fmt.Printf("%+v\n", lim.Stats())
	fmt.Printf("%+v\n", lim.Counts())
	snap := sum.Snapshot()
	fmt.Println("top sender:", snap.Sent[0].SourceID, snap.Sent[0].Count)
	fmt.Println("top dropped:", snap.Dropped[0].SourceID, snap.Dropped[0].Count)
	// Output:
	// {Written:103 Read:8 Dropped:95 Collisions:0 Bytes:0}
	// {RateLimited:95 Sources:2 Evicted:0 Overflow:0}
	// top sender: noisy 100
	// top dropped: noisy 95
}

// NewFair keeps a steady source's envelopes when a noisy one overflows the
// buffer: the noisy source loses its own oldest.
func ExampleNewFair() {
	b, err := limit.NewFair(4)
	if err != nil {
		panic(err)
	}
	for range 10 {
		b.Set(marshal(envelope.NewLog("noisy", nil)))
	}
	b.Set(marshal(envelope.NewLog("steady", nil)))
	var got []string
	for {
		e, ok := b.TryNext()
		if !ok {
			break
		}
		got = append(got, limit.SourceID(e))
	}
	fmt.Println(strings.Join(got, " "))
	fmt.Printf("%+v\n", b.Stats())
	// Output:
	// noisy steady noisy noisy
	// {Written:11 Read:4 Dropped:7 Collisions:0 Bytes:0}
}

func ExampleParseConfig() {
	_, err := limit.ParseConfig(strings.NewReader("* 100/s\nnoisy lots\n"))
	fmt.Println(err)
	// Output:
	// limit: invalid configuration: line 2: rate "lots" is not a positive number of envelopes per second or unlimited
}
