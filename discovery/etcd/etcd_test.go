package etcd_test

import (
	"context"
	"slices"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sluicelog/sluice/discovery"
	"github.com/sluicelog/sluice/discovery/discoverytest"
	"github.com/sluicelog/sluice/discovery/etcd"
)

const (
	testTTL      = 2 * time.Second
	testInterval = 200 * time.Millisecond
	// hang bounds every wait: long enough that only a hang reaches it on a
	// loaded machine. How long things took is logged, not asserted.
	hang = 30 * time.Second
)

func register(t *testing.T, e *discoverytest.Etcd, ep discovery.Endpoint) *etcd.Registrar {
	t.Helper()
	r, err := etcd.NewRegistrar(e.Client(), ep, etcd.WithTTL(testTTL))
	require.NoError(t, err)
	t.Cleanup(func() { _ = r.Close() })
	return r
}

func watch(t *testing.T, e *discoverytest.Etcd, opts ...etcd.Option) *etcd.Watcher {
	t.Helper()
	w, err := etcd.NewWatcher(e.Client(), append([]etcd.Option{etcd.WithInterval(testInterval)}, opts...)...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = w.Close() })
	return w
}

func TestEtcdRegistrarAndWatcherSeeEachOther(t *testing.T) {
	e := discoverytest.StartEtcd(t)
	r1 := register(t, e, discovery.Endpoint{ID: "r1", Addr: "127.0.0.1:8082", Zone: "z1", Metadata: map[string]string{"job": "router"}})
	w := watch(t, e)
	waitKeys(t, w, hang, "r1")
	assert.Equal(t, "/sluice/meta/z1/router/r1", r1.Key())
	// The watcher may see the key before the registrar has read the answer
	// to its own put: wait for the registrar to say so too.
	require.Eventually(t, r1.Registered, hang, 5*time.Millisecond, "registrar reports its key")
	assert.Equal(t, []discovery.Endpoint{{ID: "r1", Addr: "127.0.0.1:8082", Zone: "z1", Metadata: map[string]string{"job": "router"}}}, w.State().Endpoints)

	// A second router in another zone, without an ID: its Addr is its identity.
	r2 := register(t, e, discovery.Endpoint{Addr: "127.0.0.2:8082", Zone: "z2"})
	assert.Equal(t, "/sluice/meta/z2/router/127.0.0.2:8082", r2.Key())
	waitKeys(t, w, hang, "127.0.0.2:8082", "r1")

	// The stored value is the documented JSON.
	resp, err := e.Client().Get(context.Background(), r1.Key())
	require.NoError(t, err)
	require.Len(t, resp.Kvs, 1)
	assert.JSONEq(t, `{"version":1,"endpoints":[{"id":"r1","addr":"127.0.0.1:8082","zone":"z1","metadata":{"job":"router"}}]}`, string(resp.Kvs[0].Value))

	// A graceful shutdown revokes the lease: gone at once.
	require.NoError(t, r2.Shutdown(context.Background()))
	d := waitKeys(t, w, hang, "r1")
	t.Logf("revoked registration gone after %v", d)
}

func TestEtcdCrashedRouterExpiresWithinTTL(t *testing.T) {
	e := discoverytest.StartEtcd(t)
	register(t, e, discovery.Endpoint{ID: "r1", Addr: "127.0.0.1:1", Zone: "z1"})
	crashed := register(t, e, discovery.Endpoint{ID: "r2", Addr: "127.0.0.1:2", Zone: "z1"})
	w := watch(t, e)
	waitKeys(t, w, hang, "r1", "r2")

	// WithTTL promises removal within the TTL: the lease is granted short
	// enough to absorb etcd's 500ms expiry sweep. etcd's own books say so,
	// whatever the load on the machine.
	c := e.Client()
	resp, err := c.Get(t.Context(), crashed.Key())
	require.NoError(t, err)
	require.Len(t, resp.Kvs, 1)
	ttl, err := c.TimeToLive(t.Context(), clientv3.LeaseID(resp.Kvs[0].Lease))
	require.NoError(t, err)
	assert.Equal(t, int64(1), ttl.GrantedTTL, "floor(2s - 500ms) in whole seconds")

	require.NoError(t, crashed.Close()) // no revoke: the lease must expire
	d := waitKeys(t, w, hang, "r1")
	t.Logf("crashed router removed after %v (TTL %v)", d, testTTL)
}

func TestEtcdDeletedKeyIsPutBack(t *testing.T) {
	e := discoverytest.StartEtcd(t)
	r := register(t, e, discovery.Endpoint{ID: "r1", Addr: "127.0.0.1:1", Zone: "z1"})
	w := watch(t, e, etcd.WithAllowEmpty())
	waitKeys(t, w, hang, "r1")

	_, err := e.Client().Delete(t.Context(), r.Key())
	require.NoError(t, err)
	t.Logf("deleted key back after %v", waitKey(t, e, r.Key()))
	waitKeys(t, w, hang, "r1")
}

// An etcd that goes down, loses its data and comes back empty (the seed
// outage): the watcher keeps its last good set while etcd is down, and the
// registrar puts its key back by itself, with nobody restarting anything.
func TestEtcdWipeAndRestart(t *testing.T) {
	e := discoverytest.StartEtcd(t)
	r := register(t, e, discovery.Endpoint{ID: "r1", Addr: "127.0.0.1:1", Zone: "z1"})
	w := watch(t, e)
	ch := w.Subscribe(t.Context())
	waitKeys(t, w, hang, "r1")
	good := w.State()

	// Down: the watcher keeps the last good set and reports the error.
	e.Stop()
	require.Eventually(t, func() bool { return w.State().Err != nil }, hang, 10*time.Millisecond, "watcher reports etcd down")
	down := w.State()
	assert.Equal(t, good.Endpoints, down.Endpoints)
	require.Eventually(t, func() bool { return !r.Registered() }, hang, 10*time.Millisecond, "registrar notices etcd down")
	// Over three of its read intervals the watcher must not confirm the set.
	require.Eventually(t, func() bool { return w.State().Age(time.Now()) >= 3*testInterval }, hang, 10*time.Millisecond)
	st := w.State()
	assert.Equal(t, down.Confirmed, st.Confirmed, "Confirmed must not advance while etcd is down")
	assert.Equal(t, good.Endpoints, st.Endpoints)
	require.Error(t, st.Err)

	// Wiped and started empty: the registrar puts its key back by itself.
	e.Wipe()
	restarted := time.Now()
	t.Logf("registration back %v after the wiped etcd started", waitKey(t, e, r.Key()))
	waitKeys(t, w, hang, "r1")
	t.Logf("watcher fresh again %v after the wiped etcd started", time.Since(restarted))
	require.Eventually(t, r.Registered, hang, 10*time.Millisecond)

	// The subscriber, which read nothing meanwhile, gets the recovered set.
	for {
		s := next(t, ch, hang)
		if s.Err == nil && slices.Equal(discoverytest.Keys(s), []string{"r1"}) {
			break
		}
	}
}

// waitKey waits for key to exist in etcd and returns how long that took.
func waitKey(t *testing.T, e *discoverytest.Etcd, key string) time.Duration {
	t.Helper()
	c := e.Client()
	start := time.Now()
	require.Eventually(t, func() bool {
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		resp, err := c.Get(ctx, key)
		return err == nil && len(resp.Kvs) == 1
	}, hang, 10*time.Millisecond, "key %s in etcd", key)
	return time.Since(start)
}

func TestEtcdWatcherReadsLoggregatorValues(t *testing.T) {
	e := discoverytest.StartEtcd(t)
	c := e.Client()
	_, err := c.Put(context.Background(), "/doppler/meta/z1/doppler_z1/4c73",
		`{"version":1,"endpoints":["udp://10.160.55.25:3457","tcp://10.160.55.25:3458"]}`)
	require.NoError(t, err)
	_, err = c.Put(context.Background(), "/doppler/meta/z2/doppler_z2/bad", `not json`)
	require.NoError(t, err)
	w := watch(t, e, etcd.WithPrefix("/doppler/meta"))
	waitKeys(t, w, hang, "10.160.55.25:3457", "10.160.55.25:3458")
	assert.Equal(t, []discovery.Endpoint{
		{Addr: "10.160.55.25:3457", Zone: "z1", Metadata: map[string]string{"scheme": "udp"}},
		{Addr: "10.160.55.25:3458", Zone: "z1", Metadata: map[string]string{"scheme": "tcp"}},
	}, w.State().Endpoints)
}
