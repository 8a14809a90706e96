package discovery

import (
	"context"
	"errors"
	"sync"
	"time"
)

// Fallback is a Source that combines others in order of preference: the
// first source with a fresh, non-empty set wins. Build it with First or
// FirstWithin.
//
// When no source is fresh, Fallback reports the most recently confirmed
// non-empty set among them, with that source's error (or ErrStale when it
// is only too old), so consumers still see the last good set and its age.
type Fallback struct {
	sources []Source
	maxAge  time.Duration
}

var _ Source = (*Fallback)(nil)

// First combines sources in order of preference, for example an
// etcd.Watcher (package discovery/etcd) first and a Static list as the
// fallback. A source is fresh when its State has no error and at least one
// endpoint.
func First(sources ...Source) *Fallback {
	return &Fallback{sources: sources}
}

// FirstWithin is First with an age limit: a source whose set was last
// confirmed more than maxAge ago is not fresh either.
func FirstWithin(maxAge time.Duration, sources ...Source) *Fallback {
	return &Fallback{sources: sources, maxAge: maxAge}
}

// State returns the combined State of the sources now.
func (f *Fallback) State() State {
	return f.pick(time.Now())
}

func (f *Fallback) pick(now time.Time) State {
	var (
		best    State
		haveSet bool
		errs    []error
	)
	for _, s := range f.sources {
		st := s.State()
		if st.Fresh(now, f.maxAge) {
			return st
		}
		if st.Err == nil && len(st.Endpoints) > 0 {
			st.Err = ErrStale // only too old
		}
		if st.Err != nil {
			errs = append(errs, st.Err)
		}
		if len(st.Endpoints) > 0 && (!haveSet || st.Confirmed.After(best.Confirmed)) {
			best, haveSet = st, true
		}
	}
	if haveSet {
		return best
	}
	if len(errs) == 0 {
		errs = append(errs, ErrNoEndpoints)
	}
	return State{Err: errors.Join(errs...)}
}

// Subscribe sends the combined State at once and again whenever a change in
// any source (or, with FirstWithin, a source ageing out) changes it. The
// channel is closed when ctx ends.
func (f *Fallback) Subscribe(ctx context.Context) <-chan State {
	out := make(chan State, 1)
	last := f.pick(time.Now())
	out <- last

	ctx, cancel := context.WithCancel(ctx)
	poke := make(chan struct{}, 1)
	var wg sync.WaitGroup
	for _, s := range f.sources {
		ch := s.Subscribe(ctx)
		wg.Go(func() {
			for range ch {
				select {
				case poke <- struct{}{}:
				default:
				}
			}
		})
	}
	go func() {
		defer close(out)
		defer wg.Wait() // sources close their channels once ctx ends
		defer cancel()
		var tick <-chan time.Time
		if f.maxAge > 0 {
			t := time.NewTicker(max(f.maxAge/4, time.Millisecond))
			defer t.Stop()
			tick = t.C
		}
		for {
			select {
			case <-ctx.Done():
				return
			case <-poke:
			case <-tick:
			}
			cur := f.pick(time.Now())
			if sameState(last, cur) {
				continue
			}
			last = cur
			offer(out, copyState(cur))
		}
	}()
	return out
}
