package etcd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	grpcbackoff "google.golang.org/grpc/backoff"

	"github.com/sluicelog/sluice/discovery"
	"github.com/sluicelog/sluice/internal/backoff"
	"github.com/sluicelog/sluice/internal/lifecycle"
)

// ClientConfig returns a clientv3.Config for endpoints that suits
// discovery: the client's own logging is off (etcd's client logs to stderr
// by default), dials and requests time out after 2s, dead connections are
// noticed by keepalive within seconds, and reconnects back off at most 1s so
// that a restarted etcd is found again quickly. Adjust the fields (TLS,
// auth) and pass the result to clientv3.New.
func ClientConfig(endpoints ...string) clientv3.Config {
	return clientv3.Config{
		Endpoints:            endpoints,
		DialTimeout:          2 * time.Second,
		DialKeepAliveTime:    5 * time.Second,
		DialKeepAliveTimeout: 2 * time.Second,
		Logger:               zap.NewNop(),
		DialOptions: []grpc.DialOption{grpc.WithConnectParams(grpc.ConnectParams{
			Backoff: grpcbackoff.Config{
				BaseDelay:  100 * time.Millisecond,
				Multiplier: 1.6,
				Jitter:     0.2,
				MaxDelay:   time.Second,
			},
			MinConnectTimeout: 2 * time.Second,
		})},
	}
}

// Registrar keeps one endpoint registered in etcd: a key
// <prefix>/<zone>/<job>/<id> whose value is a Registration, attached to a
// lease that the Registrar keeps alive. It repairs the registration by
// itself: when the key is deleted it is put back at once; when the lease is
// lost (expired, revoked, or gone because etcd's data was wiped) a new lease
// is granted and the key put again; and every TTL/3 it reads the key back
// and rewrites it if it is missing or not on its lease.
type Registrar struct {
	client *clientv3.Client
	key    string
	value  string
	opts   options
	ttlSec int64

	registered atomic.Bool
	lease      atomic.Int64 // current clientv3.LeaseID, 0 if none

	runner *lifecycle.Runner
}

// NewRegistrar starts registering ep under the key
// <prefix>/<ep.Zone>/<job>/<ep.Key()> using client, which stays owned by the
// caller. It reads WithPrefix, WithJob, WithTTL, WithTimeout and WithLogger.
// Registration happens in the background and is retried until Shutdown or
// Close; Registered reports whether it currently holds.
func NewRegistrar(client *clientv3.Client, ep discovery.Endpoint, opts ...Option) (*Registrar, error) {
	if client == nil {
		return nil, fmt.Errorf("%w: NewRegistrar needs a client", ErrInvalidConfig)
	}
	if ep.Addr == "" {
		return nil, fmt.Errorf("%w: NewRegistrar needs an endpoint with an Addr", ErrInvalidConfig)
	}
	if strings.Contains(ep.Key(), "/") || strings.Contains(ep.Zone, "/") {
		return nil, fmt.Errorf("%w: endpoint identity %q and zone %q must not contain '/'", ErrInvalidConfig, ep.Key(), ep.Zone)
	}
	o := buildOptions(opts)
	value, err := encodeRegistration(ep)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	ttlSec := max(int64((o.ttl-leaseSweep)/time.Second), 1)
	r := &Registrar{
		client: client,
		key:    registrationKey(o.prefix, ep.Zone, o.job, ep.Key()),
		value:  value,
		opts:   o,
		ttlSec: ttlSec,
	}
	r.runner = lifecycle.Start(r.run)
	return r, nil
}

// Key returns the etcd key the Registrar writes.
func (r *Registrar) Key() string { return r.key }

// Registered reports whether the key was last known to be in etcd on a live
// lease.
func (r *Registrar) Registered() bool { return r.registered.Load() }

// Close stops keeping the registration alive without removing it: the key
// stays until its lease expires, as if the process had crashed. Use it to
// simulate a crashed router in tests. Close waits for the Registrar's
// goroutines and is safe to call more than once.
func (r *Registrar) Close() error {
	return r.runner.Close(func() { r.registered.Store(false) })
}

// Shutdown stops the Registrar and revokes its lease, so watchers see the
// endpoint go at once. When ctx ends first, the key is left to expire with
// its lease and ctx's error is returned.
func (r *Registrar) Shutdown(ctx context.Context) error {
	if err := r.runner.Stop(ctx); err != nil {
		return err
	}
	_ = r.Close()
	id := clientv3.LeaseID(r.lease.Swap(0))
	if id == 0 {
		return nil
	}
	_, err := r.client.Revoke(ctx, id)
	if errors.Is(err, rpctypes.ErrLeaseNotFound) {
		return nil
	}
	return err
}

func (r *Registrar) timeout() time.Duration { return r.opts.requestTimeout(r.opts.ttl) }

func (r *Registrar) run(ctx context.Context) {
	// Retries back off quickly up to TTL/4, so that once etcd answers again
	// the registration is back well within one TTL.
	policy := backoff.Policy{Base: 50 * time.Millisecond, Max: max(r.opts.ttl/4, 50*time.Millisecond)}
	attempt := 0
	for {
		held, err := r.session(ctx)
		r.registered.Store(false)
		if ctx.Err() != nil {
			return
		}
		if held {
			attempt = 0
		}
		r.opts.logger.Warn("etcd: registration lost; registering again",
			slog.String("key", r.key), slog.Any("error", err))
		if !backoff.Sleep(ctx, policy.Delay(attempt)) {
			return
		}
		attempt++
	}
}

var errLeaseLost = errors.New("etcd: lease lost")

// session grants a lease, puts the key on it and keeps both until something
// breaks. held reports whether the key was put at all.
func (r *Registrar) session(ctx context.Context) (held bool, err error) {
	// The watch runs on a goroutine of its own (see startWatch); it ends
	// with the session: cancel first, then wait.
	var wg sync.WaitGroup
	defer wg.Wait()
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()

	gctx, gcancel := context.WithTimeout(sctx, r.timeout())
	lease, err := r.client.Grant(gctx, r.ttlSec)
	gcancel()
	if err != nil {
		return false, err
	}
	r.lease.Store(int64(lease.ID))
	rev, err := r.put(sctx, lease.ID)
	if err != nil {
		return false, err
	}
	r.registered.Store(true)
	r.opts.logger.Info("etcd: registered", slog.String("key", r.key), slog.Int64("lease", int64(lease.ID)))

	ka, err := r.client.KeepAlive(sctx, lease.ID)
	if err != nil {
		return true, err
	}
	// Watch the key to put it back the moment someone deletes or overwrites
	// it. The watch is only the fast path: the periodic check guards the key
	// whether the watch works or not, and restarts a broken watch.
	wch := startWatch(sctx, &wg, r.client, r.key, clientv3.WithRev(rev+1))
	check := time.NewTicker(max(r.opts.ttl/3, 100*time.Millisecond))
	defer check.Stop()
	for {
		select {
		case <-sctx.Done():
			return true, sctx.Err()
		case _, ok := <-ka:
			if !ok {
				return true, errLeaseLost
			}
		case wresp, ok := <-wch:
			if !ok || wresp.Canceled || wresp.Err() != nil {
				wch = nil // restarted by the next check
				continue
			}
			if !r.changed(wresp.Events, lease.ID) {
				continue
			}
			r.opts.logger.Warn("etcd: registration key changed by someone else; putting it back",
				slog.String("key", r.key))
			if _, err := r.put(sctx, lease.ID); err != nil {
				if errors.Is(err, rpctypes.ErrLeaseNotFound) {
					return true, errLeaseLost
				}
				r.registered.Store(false) // the periodic check retries
			}
		case <-check.C:
			if err := r.verify(sctx, lease.ID); err != nil {
				return true, err
			}
			if wch == nil {
				wch = startWatch(sctx, &wg, r.client, r.key)
			}
		}
	}
}

// changed reports whether events delete the key or put it with another
// value or lease than the Registrar's.
func (r *Registrar) changed(events []*clientv3.Event, id clientv3.LeaseID) bool {
	for _, ev := range events {
		if ev.Type == clientv3.EventTypeDelete || ev.Kv.Lease != int64(id) || string(ev.Kv.Value) != r.value {
			return true
		}
	}
	return false
}

func (r *Registrar) put(ctx context.Context, id clientv3.LeaseID) (int64, error) {
	pctx, cancel := context.WithTimeout(ctx, r.timeout())
	defer cancel()
	resp, err := r.client.Put(pctx, r.key, r.value, clientv3.WithLease(id))
	if err != nil {
		return 0, err
	}
	return resp.Header.Revision, nil
}

// verify reads the key back and puts it again when it is missing or not on
// our lease (for example after etcd's data was wiped). It returns an error
// only when the lease is gone; a failed read is left to the next check.
func (r *Registrar) verify(ctx context.Context, id clientv3.LeaseID) error {
	gctx, cancel := context.WithTimeout(ctx, r.timeout())
	resp, err := r.client.Get(gctx, r.key)
	cancel()
	if err != nil {
		r.registered.Store(false)
		return nil
	}
	if len(resp.Kvs) == 1 && resp.Kvs[0].Lease == int64(id) && string(resp.Kvs[0].Value) == r.value {
		r.registered.Store(true)
		return nil
	}
	r.opts.logger.Warn("etcd: registration key missing; putting it back", slog.String("key", r.key))
	if _, err := r.put(ctx, id); err != nil {
		if errors.Is(err, rpctypes.ErrLeaseNotFound) {
			return errLeaseLost
		}
		r.registered.Store(false)
		return nil
	}
	r.registered.Store(true)
	return nil
}
