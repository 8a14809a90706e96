package etcd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/sluicelog/sluice/discovery"
	"github.com/sluicelog/sluice/internal/backoff"
	"github.com/sluicelog/sluice/internal/lifecycle"
)

var errWatchEnded = errors.New("etcd: watch ended")

// Watcher is a discovery.Source that follows the registrations under an etcd prefix.
//
// It reads the prefix, then watches it from the revision it read, so no
// change is missed between the two. It copes with what etcd does to a long
// watch: on compaction or a broken watch it reads the prefix again and
// watches anew. Every interval (WithInterval, default 10s) it also re-reads
// the prefix: a successful read confirms the set (State.Confirmed), a failed
// one (etcd down or without a leader) sets State.Err and keeps the last good
// set, and a revision lower than one already seen reveals that etcd's data
// was wiped, which restarts the watch. The freshness rules are those of
// discovery.Feed.
type Watcher struct {
	client *clientv3.Client
	opts   options
	feed   *discovery.Feed

	runner *lifecycle.Runner

	// Owned by the run goroutine.
	kvs map[string][]discovery.Endpoint // by etcd key
	rev int64                           // highest revision reflected in kvs
}

var _ discovery.Source = (*Watcher)(nil)

// NewWatcher starts watching the registrations under the prefix (WithPrefix,
// default DefaultPrefix) using client, which stays owned by the caller. It
// reads WithPrefix, WithInterval, WithTimeout, WithAllowEmpty and WithLogger.
// Until the first read State.Err is discovery.ErrPending. Shutdown or Close
// stops it.
func NewWatcher(client *clientv3.Client, opts ...Option) (*Watcher, error) {
	if client == nil {
		return nil, fmt.Errorf("%w: NewWatcher needs a client", ErrInvalidConfig)
	}
	o := buildOptions(opts)
	feedOpts := []discovery.Option{discovery.WithLogger(o.logger)}
	if o.allowEmpty {
		feedOpts = append(feedOpts, discovery.WithAllowEmpty())
	}
	w := &Watcher{
		client: client,
		opts:   o,
		feed:   discovery.NewFeed(feedOpts...),
		kvs:    make(map[string][]discovery.Endpoint),
	}
	w.runner = lifecycle.Start(w.run)
	return w, nil
}

// State returns the latest State without waiting.
func (w *Watcher) State() discovery.State { return w.feed.State() }

// Subscribe sends the current State at once, then every change. The channel
// is closed when ctx ends or the Watcher is closed.
func (w *Watcher) Subscribe(ctx context.Context) <-chan discovery.State {
	return w.feed.Subscribe(ctx)
}

// Shutdown stops watching like Close, but when ctx ends before a running
// etcd request has returned it stops waiting and returns ctx's error; the
// request is cancelled either way.
func (w *Watcher) Shutdown(ctx context.Context) error {
	if err := w.runner.Stop(ctx); err != nil {
		return err
	}
	return w.Close()
}

// Close stops watching and waits for its goroutine. The last set stays
// readable with Err set to discovery.ErrClosed; subscribers' channels are
// closed. Close is safe to call more than once.
func (w *Watcher) Close() error {
	return w.runner.Close(func() { _ = w.feed.Close() })
}

func (w *Watcher) prefix() string { return w.opts.prefix + "/" }

func (w *Watcher) run(ctx context.Context) {
	policy := backoff.Policy{Base: 50 * time.Millisecond, Max: max(w.opts.interval, 50*time.Millisecond)}
	attempt := 0
	for ctx.Err() == nil {
		_, err := w.resync(ctx)
		if err == nil {
			err = w.follow(ctx)
		}
		if err == nil {
			attempt = 0
			continue
		}
		// A failed read or a broken watch: try again after a pause, so that
		// a watch that breaks at once does not spin.
		if !backoff.Sleep(ctx, policy.Delay(attempt)) {
			return
		}
		attempt++
	}
}

// follow watches from w.rev+1 until the watch must be restarted or ctx ends.
// It returns an error when the watch broke, nil when it ended for a reason
// that a new read and watch resolve (compaction, wiped data) or ctx ended.
func (w *Watcher) follow(ctx context.Context) error {
	// The watch runs on a goroutine of its own (see startWatch), so that the
	// periodic read below goes on while etcd is unreachable: cancel it
	// first, then wait for it.
	var wg sync.WaitGroup
	defer wg.Wait()
	wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	defer cancel()
	wch := startWatch(wctx, &wg, w.client, w.prefix(), clientv3.WithPrefix(), clientv3.WithRev(w.rev+1))
	tick := time.NewTicker(w.opts.interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case resp, ok := <-wch:
			if !ok {
				return errWatchEnded
			}
			if resp.CompactRevision != 0 {
				w.opts.logger.Info("etcd: watch compacted; reading the prefix again",
					slog.Int64("compact_revision", resp.CompactRevision))
				return nil
			}
			if err := resp.Err(); err != nil || resp.Canceled {
				if err == nil {
					err = errWatchEnded
				}
				err = fmt.Errorf("etcd: watch: %w", err)
				w.fail(err)
				return err
			}
			changed := false
			for _, ev := range resp.Events {
				if ev.Kv.ModRevision <= w.rev {
					continue // already in the set from a read
				}
				changed = true
				key := string(ev.Kv.Key)
				if ev.Type == clientv3.EventTypeDelete {
					delete(w.kvs, key)
					continue
				}
				eps, err := decodeRegistration(w.opts.prefix, key, ev.Kv.Value)
				if err != nil {
					w.opts.logger.Warn("etcd: ignoring bad registration", slog.Any("error", err))
					delete(w.kvs, key)
					continue
				}
				w.kvs[key] = eps
			}
			if resp.Header.Revision > w.rev {
				w.rev = resp.Header.Revision
			}
			if changed {
				w.publish()
			}
		case <-tick.C:
			wiped, err := w.resync(ctx)
			if err == nil && wiped {
				return nil
			}
		}
	}
}

// resync reads the whole prefix and makes it the set. wiped reports that
// etcd's revision went backwards, which only happens when its data was
// replaced, so that the running watch waits for revisions that may never
// come and must be restarted.
func (w *Watcher) resync(ctx context.Context) (wiped bool, err error) {
	gctx, cancel := context.WithTimeout(clientv3.WithRequireLeader(ctx), w.opts.requestTimeout(w.opts.interval))
	resp, err := w.client.Get(gctx, w.prefix(), clientv3.WithPrefix())
	cancel()
	if err != nil {
		if ctx.Err() == nil {
			w.fail(fmt.Errorf("etcd: read: %w", err))
		}
		return false, err
	}
	wiped = resp.Header.Revision < w.rev
	if wiped {
		w.opts.logger.Warn("etcd: revision went backwards (data wiped?); watching anew",
			slog.Int64("seen", w.rev), slog.Int64("now", resp.Header.Revision))
	}
	clear(w.kvs)
	for _, kv := range resp.Kvs {
		eps, err := decodeRegistration(w.opts.prefix, string(kv.Key), kv.Value)
		if err != nil {
			w.opts.logger.Warn("etcd: ignoring bad registration", slog.Any("error", err))
			continue
		}
		w.kvs[string(kv.Key)] = eps
	}
	w.rev = resp.Header.Revision
	w.publish()
	return wiped, nil
}

func (w *Watcher) publish() {
	var eps []discovery.Endpoint
	for _, k := range slices.Sorted(maps.Keys(w.kvs)) {
		eps = append(eps, w.kvs[k]...)
	}
	w.feed.Report(eps, nil)
}

func (w *Watcher) fail(err error) { w.feed.Report(nil, err) }
