package discovery_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sluicelog/sluice/discovery"
	"github.com/sluicelog/sluice/discovery/discoverytest"
)

const (
	testTTL      = 2 * time.Second
	testInterval = 200 * time.Millisecond
)

func register(t *testing.T, e *discoverytest.Etcd, ep discovery.Endpoint) *discovery.Registrar {
	t.Helper()
	r, err := discovery.NewRegistrar(e.Client(), ep, discovery.WithTTL(testTTL), discovery.WithInterval(testInterval))
	require.NoError(t, err)
	t.Cleanup(func() { _ = r.Close() })
	return r
}

func watch(t *testing.T, e *discoverytest.Etcd, opts ...discovery.Option) *discovery.Watcher {
	t.Helper()
	w, err := discovery.NewWatcher(e.Client(), append([]discovery.Option{discovery.WithInterval(testInterval)}, opts...)...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = w.Close() })
	return w
}

func TestEtcdRegistrarAndWatcherSeeEachOther(t *testing.T) {
	e := discoverytest.StartEtcd(t)
	r1 := register(t, e, discovery.Endpoint{ID: "r1", Addr: "127.0.0.1:8082", Zone: "z1", Metadata: map[string]string{"job": "router"}})
	w := watch(t, e)
	waitKeys(t, w, 5*time.Second, "r1")
	assert.Equal(t, "/sluice/meta/z1/router/r1", r1.Key())
	assert.True(t, r1.Registered())
	assert.Equal(t, []discovery.Endpoint{{ID: "r1", Addr: "127.0.0.1:8082", Zone: "z1", Metadata: map[string]string{"job": "router"}}}, w.State().Endpoints)

	// A second router in another zone, without an ID: its Addr is its identity.
	r2 := register(t, e, discovery.Endpoint{Addr: "127.0.0.2:8082", Zone: "z2"})
	assert.Equal(t, "/sluice/meta/z2/router/127.0.0.2:8082", r2.Key())
	waitKeys(t, w, time.Second, "127.0.0.2:8082", "r1")

	// The stored value is the documented JSON.
	resp, err := e.Client().Get(context.Background(), r1.Key())
	require.NoError(t, err)
	require.Len(t, resp.Kvs, 1)
	assert.JSONEq(t, `{"version":1,"endpoints":[{"id":"r1","addr":"127.0.0.1:8082","zone":"z1","metadata":{"job":"router"}}]}`, string(resp.Kvs[0].Value))

	// A graceful shutdown revokes the lease: gone at once.
	require.NoError(t, r2.Shutdown(context.Background()))
	d := waitKeys(t, w, time.Second, "r1")
	t.Logf("revoked registration gone after %v", d)
}

func TestEtcdCrashedRouterExpiresWithinTTL(t *testing.T) {
	e := discoverytest.StartEtcd(t)
	register(t, e, discovery.Endpoint{ID: "r1", Addr: "127.0.0.1:1", Zone: "z1"})
	crashed := register(t, e, discovery.Endpoint{ID: "r2", Addr: "127.0.0.1:2", Zone: "z1"})
	w := watch(t, e)
	waitKeys(t, w, 5*time.Second, "r1", "r2")

	require.NoError(t, crashed.Close()) // no revoke: the lease must expire
	// WithTTL promises removal within the TTL: the lease is granted short
	// enough to absorb etcd's 500ms expiry sweep.
	d := waitKeys(t, w, testTTL, "r1")
	t.Logf("crashed router removed after %v (TTL %v)", d, testTTL)
}

func TestEtcdDeletedKeyIsPutBack(t *testing.T) {
	e := discoverytest.StartEtcd(t)
	r := register(t, e, discovery.Endpoint{ID: "r1", Addr: "127.0.0.1:1", Zone: "z1"})
	w := watch(t, e, discovery.WithAllowEmpty())
	waitKeys(t, w, 5*time.Second, "r1")

	_, err := e.Client().Delete(context.Background(), r.Key())
	require.NoError(t, err)
	t.Logf("deleted key back after %v", waitKey(t, e, r.Key()))
	waitKeys(t, w, testTTL, "r1")
}

func TestEtcdWipeAndRestart(t *testing.T) {
	e := discoverytest.StartEtcd(t)
	r := register(t, e, discovery.Endpoint{ID: "r1", Addr: "127.0.0.1:1", Zone: "z1"})
	w := watch(t, e)
	ch := w.Subscribe(testCtx(t))
	waitKeys(t, w, 5*time.Second, "r1")
	good := w.State()

	// Down: the watcher keeps the last good set and reports the error.
	e.Stop()
	require.Eventually(t, func() bool { return w.State().Err != nil }, 5*time.Second, 10*time.Millisecond)
	down := w.State()
	assert.Equal(t, good.Endpoints, down.Endpoints)
	require.Eventually(t, func() bool { return !r.Registered() }, 5*time.Second, 10*time.Millisecond)
	time.Sleep(3 * testInterval)
	assert.Equal(t, down.Confirmed, w.State().Confirmed, "Confirmed must not advance while etcd is down")
	assert.GreaterOrEqual(t, w.State().Age(time.Now()), 3*testInterval)

	// Wiped and started empty: the registrar puts its key back by itself.
	e.Wipe()
	restarted := time.Now()
	t.Logf("registration back %v after the wiped etcd started", waitKey(t, e, r.Key()))
	waitKeys(t, w, testTTL, "r1")
	t.Logf("watcher fresh again %v after the wiped etcd started", time.Since(restarted))
	assert.True(t, r.Registered())

	// The subscriber saw the error and the recovery (coalesced: at least the latest).
	var last discovery.State
	for len(ch) > 0 {
		last = <-ch
	}
	assert.NoError(t, last.Err)
}

// waitKey waits up to one TTL for key to exist in etcd and returns how long
// that took.
func waitKey(t *testing.T, e *discoverytest.Etcd, key string) time.Duration {
	t.Helper()
	c := e.Client()
	start := time.Now()
	require.Eventually(t, func() bool {
		resp, err := c.Get(context.Background(), key)
		return err == nil && len(resp.Kvs) == 1
	}, testTTL, 10*time.Millisecond)
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
	w := watch(t, e, discovery.WithPrefix("/doppler/meta"))
	waitKeys(t, w, 5*time.Second, "10.160.55.25:3457", "10.160.55.25:3458")
	assert.Equal(t, []discovery.Endpoint{
		{Addr: "10.160.55.25:3457", Zone: "z1", Metadata: map[string]string{"scheme": "udp"}},
		{Addr: "10.160.55.25:3458", Zone: "z1", Metadata: map[string]string{"scheme": "tcp"}},
	}, w.State().Endpoints)
}
