package discovery_test

import (
	"context"
	"errors"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sluicelog/sluice/discovery"
)

func TestStateAge(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		name  string
		state discovery.State
		want  time.Duration
	}{
		{"confirmed 3s ago", discovery.State{Confirmed: now.Add(-3 * time.Second)}, 3 * time.Second},
		{"confirmed now", discovery.State{Confirmed: now}, 0},
		{"clock behind", discovery.State{Confirmed: now.Add(time.Second)}, 0},
		{"never confirmed", discovery.State{}, time.Duration(1<<63 - 1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, tt.state.Age(now))
		})
	}
}

func TestStateFresh(t *testing.T) {
	now := time.Now()
	eps := []discovery.Endpoint{{Addr: "a:1"}}
	assert.True(t, discovery.State{Endpoints: eps, Confirmed: now}.Fresh(now, time.Second))
	assert.False(t, discovery.State{Endpoints: eps, Confirmed: now.Add(-2 * time.Second)}.Fresh(now, time.Second))
	assert.True(t, discovery.State{Endpoints: eps, Confirmed: now.Add(-2 * time.Second)}.Fresh(now, 0))
	assert.False(t, discovery.State{Endpoints: eps, Confirmed: now, Err: errors.New("x")}.Fresh(now, 0))
	assert.False(t, discovery.State{Confirmed: now}.Fresh(now, 0))
}

func TestStaticSetAndSubscribe(t *testing.T) {
	s := discovery.NewStatic(discovery.Endpoint{Addr: "b:1"}, discovery.Endpoint{ID: "a", Addr: "x:1", Zone: "z1"})
	assert.Equal(t, []discovery.Endpoint{{ID: "a", Addr: "x:1", Zone: "z1"}, {Addr: "b:1"}}, s.State().Endpoints)
	assert.NoError(t, s.State().Err)
	before := time.Now()
	confirmed := s.State().Confirmed // a static list is always confirmed now
	assert.False(t, confirmed.Before(before))

	ctx, cancel := context.WithCancel(context.Background())
	ch := s.Subscribe(ctx)
	assert.Equal(t, []string{"a", "b:1"}, keys(next(t, ch, hang)))

	// Coalescing: three changes while nobody reads leave only the latest.
	s.Set(discovery.Endpoint{Addr: "c:1"})
	s.Set(discovery.Endpoint{Addr: "d:1"})
	s.Set(discovery.Endpoint{Addr: "e:1"}, discovery.Endpoint{Addr: "e:1"})
	assert.Equal(t, []string{"e:1"}, keys(next(t, ch, hang)))
	assert.Len(t, ch, 0)

	// Setting the same set again is not a change.
	s.Set(discovery.Endpoint{Addr: "e:1"})
	assert.Len(t, ch, 0)

	cancel()
	require.Eventually(t, func() bool {
		select {
		case _, ok := <-ch:
			return !ok
		default:
			return false
		}
	}, hang, time.Millisecond)
}

func TestStaticStateIsACopy(t *testing.T) {
	s := discovery.NewStatic(discovery.Endpoint{Addr: "a:1", Metadata: map[string]string{"k": "v"}})
	st := s.State()
	st.Endpoints[0].Metadata["k"] = "changed"
	st.Endpoints[0].Addr = "changed"
	assert.Equal(t, []discovery.Endpoint{{Addr: "a:1", Metadata: map[string]string{"k": "v"}}}, s.State().Endpoints)
}

// scripted is a LookupFunc that returns what the test put in it.
type scripted struct {
	eps   atomic.Pointer[[]discovery.Endpoint]
	err   atomic.Pointer[error]
	calls atomic.Int64
}

func (s *scripted) set(err error, eps ...discovery.Endpoint) {
	s.eps.Store(&eps)
	s.err.Store(&err)
}

func (s *scripted) lookup(context.Context) ([]discovery.Endpoint, error) {
	s.calls.Add(1)
	return *s.eps.Load(), *s.err.Load()
}

func TestPollFreshness(t *testing.T) {
	var sc scripted
	sc.set(nil, discovery.Endpoint{Addr: "a:1"})
	p, err := discovery.Poll(sc.lookup, 20*time.Millisecond)
	require.NoError(t, err)
	defer p.Close()
	waitKeys(t, p, hang, "a:1")

	// Confirmed advances while lookups succeed.
	first := p.State().Confirmed
	require.Eventually(t, func() bool { return p.State().Confirmed.After(first) }, hang, time.Millisecond)

	// A failing lookup keeps the set, reports the error, freezes Confirmed.
	boom := errors.New("registry down")
	sc.set(boom)
	require.Eventually(t, func() bool { return p.State().Err != nil }, hang, time.Millisecond)
	failed := p.State()
	assert.Equal(t, boom, failed.Err)
	assert.Equal(t, []string{"a:1"}, keys(failed))
	calls := sc.calls.Load()
	require.Eventually(t, func() bool { return sc.calls.Load() >= calls+3 }, hang, time.Millisecond)
	assert.Equal(t, failed.Confirmed, p.State().Confirmed, "failed lookups must not confirm")

	// An empty answer is not trusted either.
	sc.set(nil)
	require.Eventually(t, func() bool { return errors.Is(p.State().Err, discovery.ErrNoEndpoints) }, hang, time.Millisecond)
	assert.Equal(t, []string{"a:1"}, keys(p.State()))

	sc.set(nil, discovery.Endpoint{Addr: "b:1"})
	waitKeys(t, p, hang, "b:1")

	require.NoError(t, p.Close())
	require.NoError(t, p.Close())
	assert.Equal(t, discovery.ErrClosed, p.State().Err)
	assert.Equal(t, []string{"b:1"}, keys(p.State()))
	calls = sc.calls.Load()
	time.Sleep(60 * time.Millisecond) // a window for a lookup that Close failed to stop
	assert.Equal(t, calls, sc.calls.Load(), "no lookups after Close")
}

func TestPollAllowEmpty(t *testing.T) {
	var sc scripted
	sc.set(nil, discovery.Endpoint{Addr: "a:1"})
	p, err := discovery.Poll(sc.lookup, 10*time.Millisecond, discovery.WithAllowEmpty())
	require.NoError(t, err)
	defer p.Close()
	waitKeys(t, p, hang, "a:1")
	sc.set(nil)
	waitKeys(t, p, hang)
}

func TestPollRejectsBadArguments(t *testing.T) {
	none := func(context.Context) ([]discovery.Endpoint, error) { return nil, nil }
	_, err := discovery.Poll(nil, time.Second)
	assert.ErrorIs(t, err, discovery.ErrInvalidConfig)
	_, err = discovery.Poll(none, 0)
	assert.ErrorIs(t, err, discovery.ErrInvalidConfig)
	_, err = discovery.Poll(none, time.Second, discovery.WithTimeout(-time.Second))
	assert.ErrorIs(t, err, discovery.ErrInvalidConfig)
	_, err = discovery.NewDNS("")
	assert.ErrorIs(t, err, discovery.ErrInvalidConfig)
	_, err = discovery.NewDNS("routers.example")
	assert.ErrorIs(t, err, discovery.ErrInvalidConfig, "no port")
	_, err = discovery.NewDNS("routers.example:8082", discovery.WithTimeout(-time.Second))
	assert.ErrorIs(t, err, discovery.ErrInvalidConfig)
	p, err := discovery.Poll(none, time.Second, nil)
	require.NoError(t, err, "nil options are skipped")
	require.NoError(t, p.Shutdown(context.Background()))
	require.NoError(t, p.Close(), "Close after Shutdown")
	assert.ErrorIs(t, p.State().Err, discovery.ErrClosed)
}

func TestPollSubscribeClosedOnClose(t *testing.T) {
	var sc scripted
	sc.set(nil, discovery.Endpoint{Addr: "a:1"})
	p, err := discovery.Poll(sc.lookup, time.Hour)
	require.NoError(t, err)
	ch := p.Subscribe(context.Background())
	waitKeys(t, p, hang, "a:1")
	require.NoError(t, p.Close())
	var last discovery.State
	for s := range ch { // ends: Close closes subscriber channels
		last = s
	}
	assert.Equal(t, discovery.ErrClosed, last.Err)
	assert.Equal(t, []string{"a:1"}, keys(last))
}

func TestFirst(t *testing.T) {
	var primary scripted
	primary.set(errors.New("etcd down"))
	p, err := discovery.Poll(primary.lookup, 10*time.Millisecond)
	require.NoError(t, err)
	defer p.Close()
	fallback := discovery.NewStatic(discovery.Endpoint{Addr: "static:1"})
	f := discovery.First(p, fallback)
	ch := f.Subscribe(testCtx(t))

	// The primary never had a set: the static list wins.
	require.Eventually(t, func() bool { return p.State().Err != nil && p.State().Err != discovery.ErrPending }, hang, time.Millisecond)
	assert.Equal(t, []string{"static:1"}, keys(f.State()))
	assert.NoError(t, f.State().Err)

	// The primary comes up: it wins, and the subscriber is told.
	primary.set(nil, discovery.Endpoint{Addr: "etcd:1"})
	waitKeys(t, f, hang, "etcd:1")
	require.Eventually(t, func() bool {
		select {
		case s := <-ch:
			return slices.Equal(keys(s), []string{"etcd:1"})
		default:
			return false
		}
	}, hang, time.Millisecond)

	// The primary fails again: its last good set is not fresh, the static list is.
	primary.set(errors.New("etcd down"))
	waitKeys(t, f, hang, "static:1")
}

func TestFirstNothingFreshKeepsNewestSet(t *testing.T) {
	var a, b scripted
	a.set(nil, discovery.Endpoint{Addr: "a:1"})
	b.set(nil, discovery.Endpoint{Addr: "b:1"})
	pa, err := discovery.Poll(a.lookup, 10*time.Millisecond)
	require.NoError(t, err)
	defer pa.Close()
	pb, err := discovery.Poll(b.lookup, 10*time.Millisecond)
	require.NoError(t, err)
	defer pb.Close()
	waitKeys(t, pa, hang, "a:1")
	waitKeys(t, pb, hang, "b:1")

	a.set(errors.New("a down"))
	require.Eventually(t, func() bool { return pa.State().Err != nil }, hang, time.Millisecond)
	// b confirms after a's last confirmation.
	require.Eventually(t, func() bool { return pb.State().Confirmed.After(pa.State().Confirmed) }, hang, time.Millisecond)
	b.set(errors.New("b down"))
	require.Eventually(t, func() bool { return pb.State().Err != nil }, hang, time.Millisecond)

	st := discovery.First(pa, pb).State()
	assert.Equal(t, []string{"b:1"}, keys(st))
	assert.EqualError(t, st.Err, "b down")
}

func TestFirstWithinMaxAge(t *testing.T) {
	const maxAge = 200 * time.Millisecond
	primary := discovery.NewFeed()
	defer primary.Close()
	static := discovery.NewStatic(discovery.Endpoint{Addr: "static:1"})
	f := discovery.FirstWithin(maxAge, primary, static)

	// While the primary's set is younger than maxAge it wins. A machine that
	// stalls for maxAge between the report and the check cannot see that,
	// so such an attempt is made again.
	var ch <-chan discovery.State
	for attempt := 1; ; attempt++ {
		primary.Report([]discovery.Endpoint{{Addr: "a:1"}}, nil)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		st := f.State()
		ch = f.Subscribe(ctx)
		first := next(t, ch, hang)
		if time.Since(primary.State().Confirmed) < maxAge {
			assert.Equal(t, []string{"a:1"}, keys(st))
			assert.Equal(t, []string{"a:1"}, keys(first))
			break
		}
		cancel()
		require.Less(t, attempt, 20, "never checked within %v of a report", maxAge)
	}
	// Without any change in the sources, the subscriber is told when the
	// primary's set ages out.
	assert.Equal(t, []string{"static:1"}, keys(next(t, ch, hang)))

	// Only one source, too old: its set with ErrStale.
	st := discovery.FirstWithin(maxAge, primary).State()
	assert.Equal(t, []string{"a:1"}, keys(st))
	assert.ErrorIs(t, st.Err, discovery.ErrStale)
}

func TestFirstNoSources(t *testing.T) {
	st := discovery.First().State()
	assert.Empty(t, st.Endpoints)
	assert.ErrorIs(t, st.Err, discovery.ErrNoEndpoints)
}

func TestInvalidConfig(t *testing.T) {
	lookup := func(context.Context) ([]discovery.Endpoint, error) { return nil, nil }
	tests := []struct {
		name string
		new  func() error
	}{
		{"poll without lookup", func() error { _, err := discovery.Poll(nil, time.Second); return err }},
		{"poll without interval", func() error { _, err := discovery.Poll(lookup, 0); return err }},
		{"dns without name", func() error { _, err := discovery.NewDNS(""); return err }},
		{"dns without port", func() error { _, err := discovery.NewDNS("routers.example.com"); return err }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.ErrorIs(t, tt.new(), discovery.ErrInvalidConfig)
		})
	}
}

func TestPollerNilOptionsAndShutdown(t *testing.T) {
	p, err := discovery.Poll(func(context.Context) ([]discovery.Endpoint, error) {
		return []discovery.Endpoint{{Addr: "a:1"}}, nil
	}, time.Hour, nil, discovery.WithLogger(nil), nil)
	require.NoError(t, err)
	waitKeys(t, p, hang, "a:1")
	require.NoError(t, p.Shutdown(context.Background()))
	assert.ErrorIs(t, p.State().Err, discovery.ErrClosed)
	assert.Equal(t, []string{"a:1"}, keys(p.State()))
	require.NoError(t, p.Close())
}

func TestFeed(t *testing.T) {
	f := discovery.NewFeed(nil)
	assert.ErrorIs(t, f.State().Err, discovery.ErrPending)
	ch := f.Subscribe(testCtx(t))
	next(t, ch, hang)

	f.Report([]discovery.Endpoint{{ID: "b", Addr: "b:1"}, {ID: "a", Addr: "a:1"}}, nil)
	s := next(t, ch, hang)
	assert.Equal(t, []string{"a", "b"}, keys(s))
	require.NoError(t, s.Err)
	confirmed := s.Confirmed

	// A failure and an empty answer keep the last good set, unconfirmed.
	boom := errors.New("registry down")
	f.Report(nil, boom)
	s = next(t, ch, hang)
	assert.ErrorIs(t, s.Err, boom)
	assert.Equal(t, []string{"a", "b"}, keys(s))
	assert.Equal(t, confirmed, s.Confirmed)
	f.Report(nil, nil)
	s = next(t, ch, hang)
	assert.ErrorIs(t, s.Err, discovery.ErrNoEndpoints)
	assert.Equal(t, []string{"a", "b"}, keys(s))

	require.NoError(t, f.Close())
	require.NoError(t, f.Close())
	f.Report([]discovery.Endpoint{{Addr: "c:1"}}, nil) // ignored
	assert.ErrorIs(t, f.State().Err, discovery.ErrClosed)
	assert.Equal(t, []string{"a", "b"}, keys(f.State()))

	// With WithAllowEmpty an empty answer is a valid set.
	g := discovery.NewFeed(discovery.WithAllowEmpty())
	g.Report(nil, nil)
	assert.NoError(t, g.State().Err)
	assert.Empty(t, g.State().Endpoints)
}
