package discovery

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// LookupFunc finds the current endpoints, for example by asking Consul or
// the Kubernetes API. It should return promptly when ctx ends.
type LookupFunc func(ctx context.Context) ([]Endpoint, error)

// ErrPending is the State.Err of a polling source before its first lookup
// has finished.
var ErrPending = errors.New("discovery: first lookup pending")

// ErrInvalidConfig wraps every error a constructor returns for an argument
// or option it cannot use: errors.Is(err, ErrInvalidConfig).
var ErrInvalidConfig = errors.New("discovery: invalid configuration")

// Poller is a Source that calls a LookupFunc on an interval. It is the easy
// way to write a source of your own: the Poller does the freshness
// bookkeeping. A lookup that fails, or (unless WithAllowEmpty) finds nothing,
// keeps the last good set, sets State.Err and leaves State.Confirmed where
// it was; a lookup that succeeds replaces the set and confirms it.
type Poller struct {
	lookup   LookupFunc
	opts     options
	pub      *publisher
	refresh  chan struct{}
	cancel   context.CancelFunc
	done     chan struct{}
	closeOne sync.Once
}

var _ Source = (*Poller)(nil)

// Poll returns a started Poller that calls lookup at once and then every
// interval. It reads the options WithLogger, WithTimeout (default: the
// interval, at most 5s) and WithAllowEmpty. Close stops it.
func Poll(lookup LookupFunc, interval time.Duration, opts ...Option) (*Poller, error) {
	if lookup == nil {
		return nil, fmt.Errorf("%w: Poll needs a lookup func", ErrInvalidConfig)
	}
	if interval <= 0 {
		return nil, fmt.Errorf("%w: Poll needs a positive interval", ErrInvalidConfig)
	}
	o := buildOptions(opts)
	o.interval = interval
	if err := o.checkPolling(); err != nil {
		return nil, err
	}
	return startPoller(lookup, o), nil
}

func startPoller(lookup LookupFunc, o options) *Poller {
	ctx, cancel := context.WithCancel(context.Background())
	p := &Poller{
		lookup:  lookup,
		opts:    o,
		pub:     newPublisher(State{Err: ErrPending}),
		refresh: make(chan struct{}, 1),
		cancel:  cancel,
		done:    make(chan struct{}),
	}
	go p.run(ctx)
	return p
}

// State returns the latest State without waiting.
func (p *Poller) State() State { return p.pub.get() }

// Subscribe sends the current State at once, then every change. The channel
// is closed when ctx ends or the Poller is closed.
func (p *Poller) Subscribe(ctx context.Context) <-chan State { return p.pub.subscribe(ctx) }

// Refresh asks for a lookup now instead of at the next interval. It does not
// wait for the lookup.
func (p *Poller) Refresh() {
	select {
	case p.refresh <- struct{}{}:
	default:
	}
}

// Close stops polling and waits for a running lookup to return. The last set
// stays readable, with Err set to ErrClosed; subscribers' channels are
// closed. Close is safe to call more than once.
func (p *Poller) Close() error {
	p.closeOne.Do(func() {
		p.cancel()
		<-p.done
		p.pub.close(func(old State) State {
			old.Err = ErrClosed
			return old
		})
	})
	return nil
}

// Shutdown is Close: a Poller holds nothing to flush, and Close already
// ends a running lookup at once. It exists so that a Poller stops like
// every other sluice component.
func (p *Poller) Shutdown(context.Context) error { return p.Close() }

// checkPolling checks the options a polling source reads.
func (o options) checkPolling() error {
	if o.interval <= 0 || o.timeout < 0 {
		return fmt.Errorf("%w: interval %v, timeout %v", ErrInvalidConfig, o.interval, o.timeout)
	}
	return nil
}

func (p *Poller) run(ctx context.Context) {
	defer close(p.done)
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
	apply(p.pub, p.opts, eps, err, time.Now())
}

// apply records the outcome of one lookup in pub following the freshness
// rule: only a good, non-empty (or allowed empty) answer replaces the set and
// advances Confirmed.
func apply(pub *publisher, o options, eps []Endpoint, err error, now time.Time) {
	if err == nil && len(eps) == 0 && !o.allowEmpty {
		err = ErrNoEndpoints
	}
	pub.update(func(old State) State {
		if err != nil {
			if old.Err == nil || !sameErr(old.Err, err) {
				o.logger.Warn("discovery lookup failed; keeping last good set",
					slog.Any("error", err), slog.Int("endpoints", len(old.Endpoints)),
					slog.Time("confirmed", old.Confirmed))
			}
			old.Err = err
			return old
		}
		set := normalize(eps)
		if old.Err != nil && old.Err != ErrPending {
			o.logger.Info("discovery lookup recovered", slog.Int("endpoints", len(set)))
		}
		return State{Endpoints: set, Confirmed: now}
	})
}
