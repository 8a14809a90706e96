package limit

import (
	"sync"
	"sync/atomic"
	"time"
)

// coarseClock is the Limiter's default clock. Reading the system clock
// costs 50 to 120 ns on some virtual machines (about as much as the rest of
// a Limiter's Set), so a goroutine stores the time every resolution and
// Set loads it with one atomic read. Buckets therefore see time in steps
// of the resolution: a source may pass up to rate*resolution envelopes
// more or fewer in a window than an exact clock allows, never more on
// average.
//
// When no envelope arrived for idleTicks ticks the goroutine stops its
// ticker and sleeps; the next Set then reads the system clock itself and
// wakes it, so an idle program does not wake up every millisecond.
type coarseClock struct {
	base     time.Time
	res      time.Duration
	activity func() uint64 // grows while envelopes arrive

	now    atomic.Int64 // nanoseconds since base
	asleep atomic.Bool
	wake   chan struct{}
	quit   chan struct{}
	done   chan struct{}
	once   sync.Once
}

const idleTicks = 100

func startClock(res time.Duration, activity func() uint64) *coarseClock {
	c := &coarseClock{
		base: time.Now(), res: res, activity: activity,
		wake: make(chan struct{}, 1), quit: make(chan struct{}), done: make(chan struct{}),
	}
	go c.run()
	return c
}

// Now returns nanoseconds since the clock started.
func (c *coarseClock) Now() int64 {
	if c.asleep.Load() {
		n := int64(time.Since(c.base))
		// Store before the flag falls, so that a Set which finds it down
		// reads this time rather than the one from before the sleep.
		c.now.Store(n)
		if c.asleep.CompareAndSwap(true, false) {
			select {
			case c.wake <- struct{}{}:
			default:
			}
		}
		return n
	}
	return c.now.Load()
}

func (c *coarseClock) run() {
	defer close(c.done)
	t := time.NewTicker(c.res)
	defer t.Stop()
	last, idle := c.activity(), 0
	for {
		select {
		case <-c.quit:
			return
		case <-t.C:
		}
		c.now.Store(int64(time.Since(c.base)))
		if a := c.activity(); a != last {
			last, idle = a, 0
			continue
		}
		if idle++; idle < idleTicks {
			continue
		}
		// Raise the flag, then look once more: either this look sees the
		// envelope that came meanwhile, or its Set saw the flag.
		c.asleep.Store(true)
		if a := c.activity(); a != last {
			c.asleep.Store(false)
			last, idle = a, 0
			continue
		}
		select {
		case <-c.quit:
			return
		case <-c.wake:
		}
		c.now.Store(int64(time.Since(c.base)))
		last, idle = c.activity(), 0
		t.Reset(c.res)
	}
}

func (c *coarseClock) stop() {
	c.once.Do(func() { close(c.quit) })
	<-c.done
}
