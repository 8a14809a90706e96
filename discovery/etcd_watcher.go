package discovery

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

	"github.com/sluicelog/sluice/internal/backoff"
)

// Watcher is a Source that follows the registrations under an etcd prefix.
//
// It reads the prefix, then watches it from the revision it read, so no
// change is missed between the two. It copes with what etcd does to a long
// watch: on compaction or a broken watch it reads the prefix again and
// watches anew. Every interval (WithInterval, default 10s) it also re-reads
// the prefix: a successful read confirms the set (State.Confirmed), a failed
// one (etcd down or without a leader) sets State.Err and keeps the last good
// set, and a revision lower than one already seen reveals that etcd's data
// was wiped, which restarts the watch.
type Watcher struct {
	client *clientv3.Client
	opts   options
	pub    *publisher

	cancel  context.CancelFunc
	done    chan struct{}
	stopped sync.Once

	// Owned by the run goroutine.
	kvs map[string][]Endpoint // by etcd key
	rev int64                 // highest revision reflected in kvs
}

var _ Source = (*Watcher)(nil)

// NewWatcher starts watching the registrations under the prefix (WithPrefix,
// default DefaultPrefix) using client, which stays owned by the caller. It
// reads WithPrefix, WithInterval, WithTimeout, WithAllowEmpty and WithLogger.
// Close stops it.
func NewWatcher(client *clientv3.Client, opts ...Option) (*Watcher, error) {
	if client == nil {
		return nil, errors.New("discovery: NewWatcher needs an etcd client")
	}
	ctx, cancel := context.WithCancel(context.Background())
	w := &Watcher{
		client: client,
		opts:   buildOptions(opts),
		pub:    newPublisher(State{Err: ErrPending}),
		cancel: cancel,
		done:   make(chan struct{}),
		kvs:    make(map[string][]Endpoint),
	}
	go w.run(ctx)
	return w, nil
}

// State returns the latest State without waiting.
func (w *Watcher) State() State { return w.pub.get() }

// Subscribe sends the current State at once, then every change. The channel
// is closed when ctx ends or the Watcher is closed.
func (w *Watcher) Subscribe(ctx context.Context) <-chan State { return w.pub.subscribe(ctx) }

// Close stops watching. The last set stays readable with Err set to
// ErrClosed; subscribers' channels are closed. Safe to call more than once.
func (w *Watcher) Close() error {
	w.stopped.Do(func() {
		w.cancel()
		<-w.done
		w.pub.close(func(old State) State {
			old.Err = ErrClosed
			return old
		})
	})
	return nil
}

func (w *Watcher) prefix() string { return w.opts.prefix + "/" }

func (w *Watcher) run(ctx context.Context) {
	defer close(w.done)
	policy := backoff.Policy{Base: 50 * time.Millisecond, Max: max(w.opts.interval, 50*time.Millisecond)}
	attempt := 0
	for ctx.Err() == nil {
		if _, err := w.resync(ctx); err != nil {
			if !backoff.Sleep(ctx, policy.Delay(attempt)) {
				return
			}
			attempt++
			continue
		}
		attempt = 0
		w.follow(ctx)
	}
}

// follow watches from w.rev+1 until the watch must be restarted or ctx ends.
func (w *Watcher) follow(ctx context.Context) {
	wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	defer cancel()
	wch := w.client.Watch(wctx, w.prefix(), clientv3.WithPrefix(), clientv3.WithRev(w.rev+1))
	tick := time.NewTicker(w.opts.interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case resp, ok := <-wch:
			if !ok {
				return
			}
			if resp.CompactRevision != 0 {
				w.opts.logger.Info("discovery: watch compacted; reading the prefix again",
					slog.Int64("compact_revision", resp.CompactRevision))
				return
			}
			if err := resp.Err(); err != nil || resp.Canceled {
				w.fail(fmt.Errorf("discovery: etcd watch: %w", err))
				return
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
					w.opts.logger.Warn("discovery: ignoring bad registration", slog.Any("error", err))
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
				return
			}
		}
	}
}

// resync reads the whole prefix and makes it the set. wiped reports that
// etcd's revision went backwards, which only happens when its data was
// replaced, so that the running watch waits for revisions that may never
// come and must be restarted.
func (w *Watcher) resync(ctx context.Context) (wiped bool, err error) {
	gctx, cancel := context.WithTimeout(clientv3.WithRequireLeader(ctx), w.opts.requestTimeout())
	resp, err := w.client.Get(gctx, w.prefix(), clientv3.WithPrefix())
	cancel()
	if err != nil {
		if ctx.Err() == nil {
			w.fail(fmt.Errorf("discovery: etcd read: %w", err))
		}
		return false, err
	}
	wiped = resp.Header.Revision < w.rev
	if wiped {
		w.opts.logger.Warn("discovery: etcd revision went backwards (data wiped?); watching anew",
			slog.Int64("seen", w.rev), slog.Int64("now", resp.Header.Revision))
	}
	clear(w.kvs)
	for _, kv := range resp.Kvs {
		eps, err := decodeRegistration(w.opts.prefix, string(kv.Key), kv.Value)
		if err != nil {
			w.opts.logger.Warn("discovery: ignoring bad registration", slog.Any("error", err))
			continue
		}
		w.kvs[string(kv.Key)] = eps
	}
	w.rev = resp.Header.Revision
	w.publish()
	return wiped, nil
}

func (w *Watcher) publish() {
	var eps []Endpoint
	for _, k := range slices.Sorted(maps.Keys(w.kvs)) {
		eps = append(eps, w.kvs[k]...)
	}
	apply(w.pub, w.opts, eps, nil, time.Now())
}

func (w *Watcher) fail(err error) {
	apply(w.pub, w.opts, nil, err, time.Now())
}
