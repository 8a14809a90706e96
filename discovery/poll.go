package discovery

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/sluicelog/sluice/internal/lifecycle"
)

// LookupFunc finds the current endpoints, for example by asking Consul or
// the Kubernetes API. It should return promptly when ctx ends.
type LookupFunc func(ctx context.Context) ([]Endpoint, error)

// ErrPending is the State.Err of a polling source before its first lookup
// has finished.
var ErrPending = errors.New("discovery: first lookup pending")

// Poller is a Source that calls a LookupFunc on an interval. It is the easy
// way to write a source of your own: the Poller does the freshness
// bookkeeping. A lookup that fails, or (unless WithAllowEmpty) finds nothing,
// keeps the last good set, sets State.Err and leaves State.Confirmed where
// it was; a lookup that succeeds replaces the set and confirms it.
type Poller struct {
	lookup  LookupFunc
	opts    options
	feed    *Feed
	refresh chan struct{}
	runner  *lifecycle.Runner
}

var _ Source = (*Poller)(nil)

// Poll returns a started Poller that calls lookup at once and then every
// interval. It reads the options WithLogger, WithTimeout (default: the
// interval, at most 5s) and WithAllowEmpty. Shutdown or Close stops it.
func Poll(lookup LookupFunc, interval time.Duration, opts ...Option) (*Poller, error) {
	if lookup == nil {
		return nil, fmt.Errorf("%w: Poll needs a lookup func", ErrInvalidConfig)
	}
	if interval <= 0 {
		return nil, fmt.Errorf("%w: Poll needs a positive interval, got %v", ErrInvalidConfig, interval)
	}
	o := buildOptions(opts)
	o.interval = interval
	if err := o.checkPolling(); err != nil {
		return nil, err
	}
	return startPoller(lookup, o), nil
}

func startPoller(lookup LookupFunc, o options) *Poller {
	p := &Poller{
		lookup:  lookup,
		opts:    o,
		feed:    newFeed(o),
		refresh: make(chan struct{}, 1),
	}
	p.runner = lifecycle.Start(p.run)
	return p
}

// State returns the latest State without waiting.
func (p *Poller) State() State { return p.feed.State() }

// Subscribe sends the current State at once, then every change. The channel
// is closed when ctx ends or the Poller is closed.
func (p *Poller) Subscribe(ctx context.Context) <-chan State { return p.feed.Subscribe(ctx) }

// Refresh asks for a lookup now instead of at the next interval. It does not
// wait for the lookup.
func (p *Poller) Refresh() {
	select {
	case p.refresh <- struct{}{}:
	default:
	}
}

// Shutdown stops polling like Close, but when ctx ends before a running
// lookup has returned it stops waiting and returns ctx's error; the lookup's
// context is cancelled either way.
func (p *Poller) Shutdown(ctx context.Context) error {
	if err := p.runner.Stop(ctx); err != nil {
		return err
	}
	return p.Close()
}

// Close stops polling and waits for a running lookup to return. The last set
// stays readable, with Err set to ErrClosed; subscribers' channels are
// closed. Close is safe to call more than once.
func (p *Poller) Close() error {
	return p.runner.Close(func() { _ = p.feed.Close() })
}

// checkPolling checks the options a polling source reads.
func (o options) checkPolling() error {
	if o.interval <= 0 || o.timeout < 0 {
		return fmt.Errorf("%w: interval %v, timeout %v", ErrInvalidConfig, o.interval, o.timeout)
	}
	return nil
}

func (p *Poller) run(ctx context.Context) {
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		case <-p.refresh:
		}
		p.once(ctx)
		timer.Reset(p.opts.interval)
	}
}

func (p *Poller) once(ctx context.Context) {
	lctx, cancel := context.WithTimeout(ctx, p.opts.requestTimeout())
	eps, err := p.lookup(lctx)
	cancel()
	if ctx.Err() != nil {
		return // closing: the result of an interrupted lookup means nothing
	}
	p.feed.Report(eps, err)
}
