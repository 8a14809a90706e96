package limit_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sluicelog/sluice/diode"
	"github.com/sluicelog/sluice/limit"
)

func newLimiter(t *testing.T, cfg limit.Config, opts ...limit.Option) (*limit.Limiter, *diode.Channel[[]byte]) {
	t.Helper()
	buf, err := diode.NewChannel[[]byte](1 << 16)
	require.NoError(t, err)
	l, err := limit.New(buf, cfg, opts...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = l.Close() })
	return l, buf
}

// passes sets n envelopes of id and returns how many passed.
func passes(l *limit.Limiter, e []byte, n int) int {
	before := l.Counts().RateLimited
	for range n {
		l.Set(e)
	}
	return n - int(l.Counts().RateLimited-before)
}

// TestTokenBucketExact steps an injected clock and checks the exact number
// of envelopes the bucket lets through.
func TestTokenBucketExact(t *testing.T) {
	clk := newFakeClock()
	l, _ := newLimiter(t, limit.Config{
		Default: limit.Limit{Rate: 10, Burst: 5},
		Sources: map[string]limit.Limit{"vip": {Rate: 1000}},
	}, limit.WithClock(clk.Now))
	a := env(t, "app-a")

	assert.Equal(t, 5, passes(l, a, 20), "a full bucket: the burst")
	clk.Advance(99 * time.Millisecond)
	assert.Equal(t, 0, passes(l, a, 3), "no token before 100 ms")
	clk.Advance(time.Millisecond)
	assert.Equal(t, 1, passes(l, a, 3), "one token per 100 ms")
	clk.Advance(time.Second)
	assert.Equal(t, 5, passes(l, a, 20), "a second refills the burst and no more")
	clk.Advance(10 * time.Second)
	assert.Equal(t, 5, passes(l, a, 20), "the bucket holds no more than the burst")

	// 10/s sustained for 10 s: 100 envelopes, one every 100 ms.
	total := 0
	for range 100 {
		clk.Advance(100 * time.Millisecond)
		total += passes(l, a, 4)
	}
	assert.Equal(t, 100, total)

	// An override: 1000/s with a burst of ceil(rate) = 1000.
	vip := env(t, "vip")
	assert.Equal(t, 1000, passes(l, vip, 1500))
	clk.Advance(250 * time.Millisecond)
	assert.Equal(t, 250, passes(l, vip, 1000))

	c := l.Counts()
	assert.Equal(t, limit.Counts{RateLimited: 15 + 3 + 2 + 15 + 15 + 300 + 500 + 750, Sources: 2}, c)
}

func TestUnlimitedDefault(t *testing.T) {
	l, buf := newLimiter(t, limit.Config{}, limit.WithClock(newFakeClock().Now))
	e := env(t, "app")
	assert.Equal(t, 1000, passes(l, e, 1000))
	assert.Equal(t, uint64(1000), buf.Stats().Written)
}

// TestAccountingConcurrent: many writers, one reader; after the drain every
// envelope was read or counted as dropped, by the limiter or the buffer.
func TestAccountingConcurrent(t *testing.T) {
	sum := limit.NewSummary(8)
	fair, err := limit.NewFair(64, diode.WithTally(sum.Drops()))
	require.NoError(t, err)
	l, err := limit.New(fair, limit.Config{Default: limit.Limit{Rate: 20_000, Burst: 100}}, limit.WithSummary(sum))
	require.NoError(t, err)
	defer l.Close()

	ctx, cancel := context.WithCancel(context.Background())
	var read uint64
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			if _, err := l.Next(ctx); err != nil {
				return
			}
			read++
		}
	}()
	const writers, each = 4, 20_000
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e := env(t, fmt.Sprintf("app-%d", w))
			for range each {
				l.Set(e)
			}
		}()
	}
	wg.Wait()
	require.Eventually(t, func() bool {
		s := l.Stats()
		return s.Written == s.Read+s.Dropped
	}, 10*time.Second, time.Millisecond)
	cancel()
	<-done
	s := l.Stats()
	c := l.Counts()
	fs := fair.Stats()
	assert.Equal(t, uint64(writers*each), s.Written)
	assert.Equal(t, s.Written, s.Read+s.Dropped)
	assert.Equal(t, read, s.Read)
	assert.Equal(t, c.RateLimited+fs.Dropped, s.Dropped)
	assert.Equal(t, fs.Written, s.Written-c.RateLimited, "what passed reached the buffer")
	snap := sum.Snapshot()
	assert.Equal(t, uint64(writers*each), snap.TotalSent)
	assert.Equal(t, s.Dropped, snap.TotalDropped, "the summary sees both causes")
}

// TestTableCapAndEviction fills the table, checks that a newcomer shares
// the spare bucket while every source is active, and takes the place of
// an idle one once there is one.
func TestTableCapAndEviction(t *testing.T) {
	clk := newFakeClock()
	l, _ := newLimiter(t, limit.Config{Default: limit.Limit{Rate: 1, Burst: 2}},
		limit.WithClock(clk.Now), limit.WithMaxSources(3), limit.WithIdleTimeout(time.Minute))
	for i := range 3 {
		assert.Equal(t, 2, passes(l, env(t, fmt.Sprintf("s%d", i)), 5))
	}
	assert.Equal(t, 3, l.Counts().Sources)

	// Full of active sources: two newcomers share one bucket of burst 2.
	assert.Equal(t, 2, passes(l, env(t, "late1"), 1)+passes(l, env(t, "late2"), 5))
	c := l.Counts()
	assert.Equal(t, uint64(6), c.Overflow)
	assert.Equal(t, uint64(0), c.Evicted)
	assert.Equal(t, 3, c.Sources)

	// s1 and s2 stay busy; s0 goes quiet for the idle timeout.
	clk.Advance(30 * time.Second)
	passes(l, env(t, "s1"), 1)
	passes(l, env(t, "s2"), 1)
	clk.Advance(30 * time.Second)
	assert.Equal(t, 2, passes(l, env(t, "late1"), 5), "late1 took s0's place, with its own bucket")
	c = l.Counts()
	assert.Equal(t, uint64(1), c.Evicted)
	assert.Equal(t, 3, c.Sources)
	assert.Equal(t, uint64(6), c.Overflow)
}

func TestReloadFile(t *testing.T) {
	clk := newFakeClock()
	dir := t.TempDir()
	path := filepath.Join(dir, "limits")
	require.NoError(t, os.WriteFile(path, []byte("* 10/s burst 2\nnoisy 1/s\n"), 0o600))
	cfg, err := limit.ParseFile(path)
	require.NoError(t, err)
	l, _ := newLimiter(t, cfg, limit.WithClock(clk.Now))
	noisy, app := env(t, "noisy"), env(t, "app")
	assert.Equal(t, 1, passes(l, noisy, 5))
	assert.Equal(t, 2, passes(l, app, 5))

	// A broken file: refused with ErrInvalidConfig, the old limits stay.
	require.NoError(t, os.WriteFile(path, []byte("* 10/s burst 2\nnoisy fast\n"), 0o600))
	err = l.ReloadFile(path)
	require.ErrorIs(t, err, limit.ErrInvalidConfig)
	assert.Contains(t, err.Error(), "line 2")
	assert.Equal(t, cfg, l.Config())
	clk.Advance(time.Second)
	assert.Equal(t, 1, passes(l, noisy, 5))

	// A good file: applied to sources already in the table.
	require.NoError(t, os.WriteFile(path, []byte("* 10/s burst 2\nnoisy 100/s burst 50\n"), 0o600))
	require.NoError(t, l.ReloadFile(path))
	clk.Advance(time.Second)
	assert.Equal(t, 50, passes(l, noisy, 80))
	assert.Equal(t, 2, passes(l, app, 5))

	require.Error(t, l.ReloadFile(filepath.Join(dir, "missing")))
	assert.Equal(t, 100.0, l.Config().Sources["noisy"].Rate)
}

func TestReloadLongSourceID(t *testing.T) {
	clk := newFakeClock()
	long := fmt.Sprintf("%080d", 7)
	l, _ := newLimiter(t, limit.Config{Default: limit.Limit{Rate: 1}}, limit.WithClock(clk.Now))
	e := env(t, long)
	assert.Equal(t, 1, passes(l, e, 5))
	require.NoError(t, l.Reload(limit.Config{Default: limit.Limit{Rate: 1}, Sources: map[string]limit.Limit{long: {Rate: 1, Burst: 10}}}))
	assert.Equal(t, 10, passes(l, e, 20), "an ID longer than the table keeps finds its override")
}

func TestNewRefuses(t *testing.T) {
	buf := diode.Discard[[]byte]()
	_, err := limit.New(nil, limit.Config{})
	assert.ErrorIs(t, err, limit.ErrNilBuffer)
	for _, tc := range []struct {
		name string
		cfg  limit.Config
		opts []limit.Option
	}{
		{"negative rate", limit.Config{Default: limit.Limit{Rate: -1}}, nil},
		{"negative burst", limit.Config{Sources: map[string]limit.Limit{"a": {Rate: 1, Burst: -1}}}, nil},
		{"zero max sources", limit.Config{}, []limit.Option{limit.WithMaxSources(0)}},
		{"zero idle timeout", limit.Config{}, []limit.Option{limit.WithIdleTimeout(0)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := limit.New(buf, tc.cfg, tc.opts...)
			assert.ErrorIs(t, err, limit.ErrInvalidConfig)
		})
	}
	l, err := limit.New(buf, limit.Config{}, nil) // nil options are skipped
	require.NoError(t, err)
	require.NoError(t, l.Close())
	require.NoError(t, l.Close())
}

// TestRealClock runs with the clock goroutine, through an idle sleep.
func TestRealClock(t *testing.T) {
	l, _ := newLimiter(t, limit.Config{Default: limit.Limit{Rate: 1, Burst: 3}}, limit.WithResolution(100*time.Microsecond))
	e := env(t, "app")
	assert.Equal(t, 3, passes(l, e, 10))
	// Idle for more than 100 ticks lets the clock goroutine sleep; a
	// second later the bucket must have one token, read from a fresh clock.
	time.Sleep(1100 * time.Millisecond)
	assert.Equal(t, 1, passes(l, e, 10))
}

func TestLimiterZeroAllocs(t *testing.T) {
	sum := limit.NewSummary(0)
	l, _ := newLimiter(t, limit.Config{Default: limit.Limit{Rate: 1e6}}, limit.WithSummary(sum))
	envs := [][]byte{env(t, "a"), env(t, "b"), env(t, "c")}
	i := 0
	allocs := testing.AllocsPerRun(1000, func() {
		l.Set(envs[i%3])
		l.TryNext()
		i++
	})
	assert.Zero(t, allocs)
}

// TestLimiterSummaryHandOver: the Limiter keeps its sources' counts in
// its table and the Summary sees them exactly whenever it is read: counts
// of sources still in the table, of an evicted source, of the latecomers
// sharing the spare bucket and of a cut long ID, and after Close, when Set
// counts into the Summary directly.
func TestLimiterSummaryHandOver(t *testing.T) {
	clk := newFakeClock()
	sum := limit.NewSummary(8)
	l, _ := newLimiter(t, limit.Config{Default: limit.Limit{Rate: 1, Burst: 2}}, limit.WithSummary(sum),
		limit.WithClock(clk.Now), limit.WithMaxSources(2), limit.WithIdleTimeout(time.Minute))
	long := fmt.Sprintf("%0100d", 7)
	assert.Equal(t, 2, passes(l, env(t, "a"), 3))
	assert.Equal(t, 1, passes(l, env(t, long), 1))
	assert.Equal(t, 2, passes(l, env(t, "late"), 4), "the spare bucket")
	snap := sum.Snapshot()
	assert.Equal(t, []limit.SourceCount{{"late", 4, 0}, {"a", 3, 0}, {long[:64], 1, 0}}, snap.Sent)
	assert.Equal(t, []limit.SourceCount{{"late", 2, 0}, {"a", 1, 0}}, snap.Dropped)

	clk.Advance(2 * time.Minute)
	assert.Equal(t, 1, passes(l, env(t, "b"), 1), "b takes a's place")
	assert.Equal(t, 1, passes(l, env(t, "a"), 1), "a comes back in the long ID's place")
	require.Equal(t, uint64(2), l.Counts().Evicted)
	snap = sum.Snapshot()
	assert.Equal(t, []limit.SourceCount{{"a", 4, 0}, {"late", 4, 0}, {long[:64], 1, 0}, {"b", 1, 0}}, snap.Sent)
	assert.Equal(t, uint64(10), snap.TotalSent)
	assert.Equal(t, uint64(3), snap.TotalDropped)

	require.NoError(t, l.Close())
	assert.Equal(t, 1, passes(l, env(t, "b"), 2))
	snap = sum.Snapshot()
	assert.Equal(t, []limit.SourceCount{{"a", 4, 0}, {"late", 4, 0}, {"b", 3, 0}, {long[:64], 1, 0}}, snap.Sent)
	assert.Equal(t, []limit.SourceCount{{"late", 2, 0}, {"a", 1, 0}, {"b", 1, 0}}, snap.Dropped)
}
