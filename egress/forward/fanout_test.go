package forward

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sluicelog/sluice/diode"
)

// A slow destination drops its own copies; the fast one gets everything.
func TestFanoutSlowDestinationDropsItsOwn(t *testing.T) {
	src, err := diode.NewOneToOne[[]byte](100000)
	require.NoError(t, err)
	fast, err := diode.NewOneToOne[[]byte](100000)
	require.NoError(t, err)
	slow, err := diode.NewOneToOne[[]byte](10) // never read during the run
	require.NoError(t, err)
	f, err := NewFanout(src, FanoutDestination{Name: "firehose", Buffer: fast}, FanoutDestination{Name: "syslog", Buffer: slow})
	require.NoError(t, err)
	const n = 5000
	for i := range n {
		src.Set([]byte(fmt.Sprint(i)))
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	require.NoError(t, f.Run(ctx))

	got := 0
	for {
		if _, ok := fast.TryNext(); !ok {
			break
		}
		got++
	}
	for {
		if _, ok := slow.TryNext(); !ok {
			break
		}
	}
	st := f.Stats()
	assert.Equal(t, uint64(n), st.Read)
	assert.Equal(t, n, got, "the fast destination lost nothing")
	assert.Zero(t, st.Destinations["firehose"].Dropped)
	s := st.Destinations["syslog"]
	assert.Equal(t, uint64(n), s.Written)
	assert.Equal(t, uint64(n-10), s.Dropped, "the slow destination dropped its own copies")
	assert.Equal(t, s.Written, s.Read+s.Dropped)
}

func TestFanoutConfig(t *testing.T) {
	src := diode.Discard[[]byte]()
	_, err := NewFanout(src)
	require.ErrorIs(t, err, ErrInvalidConfig)
	_, err = NewFanout(nil, FanoutDestination{Name: "a", Buffer: src})
	require.ErrorIs(t, err, ErrInvalidConfig)
	_, err = NewFanout(src, FanoutDestination{Name: "a", Buffer: src}, FanoutDestination{Name: "a", Buffer: src})
	require.ErrorIs(t, err, ErrInvalidConfig)
}

func ExampleFanout() {
	src, _ := diode.NewOneToOne[[]byte](100)
	firehose, _ := diode.NewOneToOne[[]byte](100)
	syslog, _ := diode.NewOneToOne[[]byte](2) // a slow destination
	f, _ := NewFanout(src, FanoutDestination{Name: "firehose", Buffer: firehose}, FanoutDestination{Name: "syslog", Buffer: syslog})
	for i := range 5 {
		src.Set([]byte{byte(i)})
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // copy what is there and stop
	_ = f.Run(ctx)
	for {
		if _, ok := syslog.TryNext(); !ok {
			break
		}
	}
	st := f.Stats()
	fmt.Println("read", st.Read)
	fmt.Println("firehose dropped", st.Destinations["firehose"].Dropped)
	fmt.Println("syslog dropped", st.Destinations["syslog"].Dropped)
	// Output:
	// read 5
	// firehose dropped 0
	// syslog dropped 4
}
