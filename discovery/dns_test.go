package discovery_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sluicelog/sluice/discovery"
	"github.com/sluicelog/sluice/discovery/discoverytest"
)

const dnsInterval = 200 * time.Millisecond

// within bounds every wait: long enough that only a hang reaches it on a
// loaded machine.
const within = 30 * time.Second

func newDNS(t *testing.T, srv *discoverytest.DNS, name string, opts ...discovery.Option) *discovery.DNS {
	t.Helper()
	opts = append([]discovery.Option{discovery.WithResolver(srv.Resolver()), discovery.WithInterval(dnsInterval)}, opts...)
	d, err := discovery.NewDNS(name, opts...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = d.Close() })
	return d
}

func TestDNSRecordsAddedAndRemoved(t *testing.T) {
	srv := discoverytest.StartDNS(t)
	srv.SetA("routers.sluice.test", "10.0.0.1", "10.0.0.2")
	d := newDNS(t, srv, "routers.sluice.test.:8082")
	waitKeys(t, d, within, "10.0.0.1:8082", "10.0.0.2:8082")

	srv.SetA("routers.sluice.test", "10.0.0.1", "10.0.0.2", "fd00::3")
	waitKeys(t, d, within, "10.0.0.1:8082", "10.0.0.2:8082", "[fd00::3]:8082")

	srv.SetA("routers.sluice.test", "10.0.0.2", "fd00::3")
	waitKeys(t, d, within, "10.0.0.2:8082", "[fd00::3]:8082")
	assert.Equal(t, []discovery.Endpoint{{Addr: "10.0.0.2:8082"}, {Addr: "[fd00::3]:8082"}}, d.State().Endpoints)
}

func TestDNSZoneNamePreferred(t *testing.T) {
	srv := discoverytest.StartDNS(t)
	srv.SetA("routers.sluice.test", "10.0.0.1", "10.0.1.1")
	srv.SetA("z1.routers.sluice.test", "10.0.0.1")
	d := newDNS(t, srv, "routers.sluice.test.", discovery.WithPort(8082),
		discovery.WithZoneName("z1", "z1.routers.sluice.test."))
	waitKeys(t, d, within, "10.0.0.1:8082")
	assert.Equal(t, []discovery.Endpoint{{Addr: "10.0.0.1:8082", Zone: "z1"}}, d.State().Endpoints)

	// No router left in the local zone: fall back to the general name.
	srv.Remove("z1.routers.sluice.test")
	waitKeys(t, d, within, "10.0.0.1:8082", "10.0.1.1:8082")
	assert.Equal(t, []discovery.Endpoint{{Addr: "10.0.0.1:8082"}, {Addr: "10.0.1.1:8082"}}, d.State().Endpoints)
}

func TestDNSSRV(t *testing.T) {
	srv := discoverytest.StartDNS(t)
	srv.SetA("r1.sluice.test", "10.0.0.1")
	srv.SetSRV("_grpc._tcp.routers.sluice.test", discoverytest.SRV{Target: "r1.sluice.test", Port: 9001})
	d := newDNS(t, srv, "", discovery.WithSRV("_grpc._tcp.routers.sluice.test."))
	waitKeys(t, d, within, "10.0.0.1:9001")
	assert.Equal(t, []discovery.Endpoint{{Addr: "10.0.0.1:9001", Metadata: map[string]string{"target": "r1.sluice.test"}}}, d.State().Endpoints)
}

func TestDNSServerDownKeepsLastGoodSet(t *testing.T) {
	srv := discoverytest.StartDNS(t)
	srv.SetA("routers.sluice.test", "10.0.0.1")
	d := newDNS(t, srv, "routers.sluice.test.:8082")
	ch := d.Subscribe(testCtx(t))
	waitKeys(t, d, within, "10.0.0.1:8082")
	good := d.State()

	srv.Stop()
	require.Eventually(t, func() bool { return d.State().Err != nil }, within, 10*time.Millisecond)
	down := d.State()
	assert.Equal(t, good.Endpoints, down.Endpoints)
	// Over two of its lookup intervals the source must not confirm the set.
	require.Eventually(t, func() bool { return d.State().Age(time.Now()) >= 2*dnsInterval }, within, 10*time.Millisecond)
	assert.Equal(t, down.Confirmed, d.State().Confirmed, "Confirmed must not advance while DNS is down")

	// The subscriber got the error without waiting for the set to change.
	var last discovery.State
	require.Eventually(t, func() bool {
		select {
		case last = <-ch:
		default:
		}
		return last.Err != nil
	}, within, 10*time.Millisecond)
	assert.Equal(t, good.Endpoints, last.Endpoints)

	srv.SetA("routers.sluice.test", "10.0.0.2")
	srv.Start()
	waitKeys(t, d, within, "10.0.0.2:8082")
	assert.True(t, d.State().Confirmed.After(down.Confirmed))
}

func TestDNSNameGoneKeepsLastGoodSet(t *testing.T) {
	srv := discoverytest.StartDNS(t)
	srv.SetA("routers.sluice.test", "10.0.0.1")
	d := newDNS(t, srv, "routers.sluice.test.:8082")
	waitKeys(t, d, within, "10.0.0.1:8082")

	srv.Remove("routers.sluice.test")
	require.Eventually(t, func() bool { return d.State().Err != nil }, within, 10*time.Millisecond)
	assert.ErrorIs(t, d.State().Err, discovery.ErrNoEndpoints)
	assert.Equal(t, []string{"10.0.0.1:8082"}, keys(d.State()))
}
