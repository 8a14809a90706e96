package diode_test

import (
	"context"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/sluicelog/sluice/diode"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestIdleReaderSleeps checks that a reader blocked in Next on an empty
// buffer is parked (no busy spinning), and wakes on Set.
func TestIdleReaderSleeps(t *testing.T) {
	o, _ := diode.NewOneToOne[int](8)
	m, _ := diode.NewManyToOne[int](8)
	c, _ := diode.NewChannel[int](8)
	f, _ := diode.NewFair(8, func(int) string { return "s" })
	for name, b := range map[string]diode.Buffer[int]{"OneToOne": o, "ManyToOne": m, "Channel": c, "Fair": f} {
		t.Run(name, func(t *testing.T) {
			got := make(chan int, 1)
			go func() {
				v, err := b.Next(context.Background())
				assert.NoError(t, err)
				got <- v
			}()
			require.Eventually(t, func() bool { return parkedInNext() }, 2*time.Second, 5*time.Millisecond,
				"the reader should be parked in a select, not running")
			b.Set(1)
			select {
			case v := <-got:
				assert.Equal(t, 1, v)
			case <-time.After(2 * time.Second):
				t.Fatal("Next did not wake up")
			}
		})
	}
}

// parkedInNext reports whether some goroutine is blocked in a select inside
// a Next method of package diode.
func parkedInNext() bool {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "[select]") && strings.Contains(g, "sluice/diode.") && strings.Contains(g, "Next") {
			return true
		}
	}
	return false
}
