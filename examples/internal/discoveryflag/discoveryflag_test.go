package discoveryflag

import (
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sluicelog/sluice/discovery"
	"github.com/sluicelog/sluice/discovery/discoverytest"
)

func TestParseRouters(t *testing.T) {
	eps, err := ParseRouters("10.0.0.5:8082@z1, 10.0.0.6:8082,[::1]:9000@z2")
	require.NoError(t, err)
	assert.Equal(t, []discovery.Endpoint{
		{Addr: "10.0.0.5:8082", Zone: "z1"},
		{Addr: "10.0.0.6:8082"},
		{Addr: "[::1]:9000", Zone: "z2"},
	}, eps)
	for _, bad := range []string{"", " , ", "10.0.0.5", "10.0.0.5:8082,nohost@z1"} {
		_, err := ParseRouters(bad)
		assert.Error(t, err, "%q", bad)
	}
}

func TestRoutersSource(t *testing.T) {
	logger := slog.New(slog.DiscardHandler)
	for _, bad := range []Routers{
		{},
		{List: "127.0.0.1:8082", DNS: "routers.test:8082"},
		{DNS: "routers.test:8082", Etcd: Etcd{Endpoints: "http://127.0.0.1:2379"}},
		{List: "127.0.0.1:8082", DNSServer: "127.0.0.1:53"},
		{DNS: "routers.test"}, // no port
	} {
		_, _, err := bad.Source(logger)
		assert.Error(t, err, "%+v", bad)
	}

	src, release, err := (&Routers{List: "127.0.0.1:8082@z1"}).Source(logger)
	require.NoError(t, err)
	assert.Equal(t, []discovery.Endpoint{{Addr: "127.0.0.1:8082", Zone: "z1"}}, src.State().Endpoints)
	release()

	dns := discoverytest.StartDNS(t)
	dns.SetA("routers.sluice.test", "127.0.0.1")
	src, release, err = (&Routers{DNS: "routers.sluice.test:8082", DNSServer: dns.Addr()}).Source(logger)
	require.NoError(t, err)
	defer release()
	require.Eventually(t, func() bool { return len(src.State().Endpoints) == 1 }, 10*time.Second, 10*time.Millisecond)
	assert.Equal(t, "127.0.0.1:8082", src.State().Endpoints[0].Addr)
}
