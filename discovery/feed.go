package discovery

import (
	"context"
	"log/slog"
	"time"
)

// Feed is a Source that is told what a lookup found: the building block for
// a push-based source of your own, such as a watch on a registry, as Poll is
// for one that asks on an interval. Report applies the freshness rules of
// every source: a failure, or (unless WithAllowEmpty) an empty answer, keeps
// the last good set, sets State.Err and leaves State.Confirmed where it was;
// a good answer replaces the set and confirms it.
//
// Until the first Report, State.Err is ErrPending. A Feed starts no
// goroutine; Close ends it.
type Feed struct {
	opts options
	pub  *publisher
}

var _ Source = (*Feed)(nil)

// NewFeed returns a Feed with no set yet. It reads WithAllowEmpty and
// WithLogger.
func NewFeed(opts ...Option) *Feed {
	return newFeed(buildOptions(opts))
}

func newFeed(o options) *Feed {
	return &Feed{opts: o, pub: newPublisher(State{Err: ErrPending})}
}

// Report records the outcome of one lookup: the endpoints found, or the
// error that kept it from finding them. Subscribers hear of it when the set
// or the error status changed. Report after Close does nothing.
func (f *Feed) Report(eps []Endpoint, err error) {
	f.report(eps, err, time.Now())
}

func (f *Feed) report(eps []Endpoint, err error, now time.Time) {
	if err == nil && len(eps) == 0 && !f.opts.allowEmpty {
		err = ErrNoEndpoints
	}
	logger := f.opts.logger
	f.pub.update(func(old State) State {
		if err != nil {
			if old.Err == nil || !sameErr(old.Err, err) {
				logger.Warn("discovery lookup failed; keeping last good set",
					slog.Any("error", err), slog.Int("endpoints", len(old.Endpoints)),
					slog.Time("confirmed", old.Confirmed))
			}
			old.Err = err
			return old
		}
		set := normalize(eps)
		if old.Err != nil && old.Err != ErrPending {
			logger.Info("discovery lookup recovered", slog.Int("endpoints", len(set)))
		}
		return State{Endpoints: set, Confirmed: now}
	})
}

// State returns the latest State without waiting.
func (f *Feed) State() State { return f.pub.get() }

// Subscribe sends the current State at once, then every change. The channel
// is closed when ctx ends or the Feed is closed.
func (f *Feed) Subscribe(ctx context.Context) <-chan State { return f.pub.subscribe(ctx) }

// Close ends the Feed: the last set stays readable with Err set to
// ErrClosed, subscribers' channels are closed and later Reports are ignored.
// Close is safe to call more than once.
func (f *Feed) Close() error {
	f.pub.close(func(old State) State {
		old.Err = ErrClosed
		return old
	})
	return nil
}
