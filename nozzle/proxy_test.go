package nozzle_test

import (
	"fmt"
	"log"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sluicelog/sluice/discovery"
	"github.com/sluicelog/sluice/egress/serve"
	"github.com/sluicelog/sluice/internal/testtls"
	"github.com/sluicelog/sluice/nozzle"
)

// newProxy is the whole reverse log proxy: an serve.Server whose every
// subscriber gets a Firehose over the routers.
func newProxy(routers discovery.Source, opts ...nozzle.FirehoseOption) (*serve.Server, error) {
	return serve.NewServer(serve.SubscriberFunc(nozzle.FirehoseSubscriber(routers, opts...)))
}

// A proxy in front of the routers: an serve.Server fed by a Firehose per
// subscriber.
func ExampleFirehoseSubscriber() {
	routers := discovery.NewStatic(discovery.Endpoint{Addr: "10.0.0.5:8082"}, discovery.Endpoint{Addr: "10.0.1.5:8082"})
	proxy, err := newProxy(routers)
	if err != nil {
		log.Fatal(err)
	}
	defer proxy.Close()
	// Beyond loopback a Server needs serve.WithAuthorizer (a policy, or
	// authz.Open() to serve everyone on purpose).
	if _, err := proxy.Start("127.0.0.1:8083"); err != nil {
		log.Fatal(err)
	}
	// Nozzles now subscribe to 127.0.0.1:8083 (for example with
	// nozzle.NewReader).
}

// Nozzle -> proxy -> two routers, all over mutual TLS: a Reader of the proxy
// receives what both routers route to its shard.
func TestProxyOfFirehoses(t *testing.T) {
	ca, serverTLS, clientTLS := testtls.Must(t)
	r1, r2 := startRouter(t, serverTLS), startRouter(t, serverTLS)
	routers := discovery.NewStatic(discovery.Endpoint{Addr: r1.outAddr}, discovery.Endpoint{Addr: r2.outAddr})
	proxyTLS, err := ca.ServerConfig(true)
	require.NoError(t, err)
	proxy, err := serve.NewServer(serve.SubscriberFunc(nozzle.FirehoseSubscriber(routers, nozzle.WithTLS(clientTLS))),
		serve.WithTLS(proxyTLS))
	require.NoError(t, err)
	addr, err := proxy.Start("127.0.0.1:0")
	require.NoError(t, err)

	r, err := nozzle.NewReader(addr.String(), logRequest("via-proxy"), nozzle.WithTLS(clientTLS))
	require.NoError(t, err)
	r1.waitSubscriptions(1)
	r2.waitSubscriptions(1)
	a1, a2 := newAgent(t, "a1", r1.inAddr, clientTLS), newAgent(t, "a2", r2.inAddr, clientTLS)
	a1.emit(500)
	a2.emit(500)
	require.NoError(t, a1.c.Shutdown(testCtx(t)))
	require.NoError(t, a2.c.Shutdown(testCtx(t)))

	got := map[string]int{}
	ctx := testCtx(t)
	for e, err := range r.Envelopes(ctx) {
		require.NoError(t, err)
		got[string(e.GetLog().GetPayload())]++
		if len(got) == 1000 {
			break
		}
	}
	for i := range 500 {
		assert.Equal(t, 1, got[fmt.Sprintf("a1-%d", i)])
		assert.Equal(t, 1, got[fmt.Sprintf("a2-%d", i)])
	}
	require.NoError(t, r.Close())
	// The proxy's Firehose for this subscriber ends with its stream.
	r1.waitSubscriptions(0)
	r2.waitSubscriptions(0)
	require.NoError(t, proxy.Close())
	require.Eventually(t, func() bool { return proxy.Stats().Streams == 0 }, 20*time.Second, time.Millisecond)
}
