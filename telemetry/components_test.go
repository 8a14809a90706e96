package telemetry_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/sluicelog/sluice/diode"
	"github.com/sluicelog/sluice/discovery"
	"github.com/sluicelog/sluice/egress/forward"
	"github.com/sluicelog/sluice/egress/serve"
	"github.com/sluicelog/sluice/envelope"
	"github.com/sluicelog/sluice/ingress"
	"github.com/sluicelog/sluice/internal/testtls"
	"github.com/sluicelog/sluice/nozzle"
	"github.com/sluicelog/sluice/telemetry"
)

var logs = &envelope.EgressBatchRequest{
	ShardId:   "a",
	Selectors: []*envelope.Selector{{Message: &envelope.Selector_Log{Log: &envelope.LogSelector{}}}},
}

// startIngress starts an Ingress server over mutual TLS into a buffer, and
// a client of it.
func startIngress(t *testing.T) (*ingress.Server, *diode.ManyToOne[[]byte], *ingress.Client) {
	t.Helper()
	_, serverTLS, clientTLS := testtls.Must(t)
	buf, err := diode.NewManyToOne[[]byte](1024)
	require.NoError(t, err)
	srv, err := ingress.NewServer(buf, ingress.WithTLS(serverTLS))
	require.NoError(t, err)
	addr, err := srv.Start("127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { srv.Close() })
	client, err := ingress.NewClient(addr.String(), ingress.WithTLS(clientTLS))
	require.NoError(t, err)
	return srv, buf, client
}

// subscribedRouter returns a Router with one subscription of shard a.
func subscribedRouter(t *testing.T) *serve.Router {
	t.Helper()
	rt, err := serve.NewRouter()
	require.NoError(t, err)
	t.Cleanup(func() { rt.Close() })
	sub, err := rt.Subscribe(context.Background(), logs)
	require.NoError(t, err)
	t.Cleanup(func() { sub.Close() })
	return rt
}

// A router as the demo composes it (ingress server -> diode -> subscription
// router) fed by an emitting client over mutual TLS: each component counts
// ingress under the same name and tags, and the collector serves three
// series, one per component, with exact values.
func TestCollectorOverARealRouter(t *testing.T) {
	srv, buf, client := startIngress(t)
	rt := subscribedRouter(t)

	for range 7 {
		client.Emit(envelope.NewLog("app", []byte("x")))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, client.Shutdown(ctx))
	require.Eventually(t, func() bool { return srv.Stats().Ingress == 7 }, 10*time.Second, 5*time.Millisecond)
	for {
		b, ok := buf.TryNext()
		if !ok {
			break
		}
		require.NoError(t, rt.Publish(b))
	}

	c, err := telemetry.NewCollector([]telemetry.Component{
		{Name: "emitter", Reporter: client},
		{Name: "ingress_server", Reporter: srv},
		{Name: "ingress_buffer", Reporter: telemetry.Buffer(buf, "ingress")},
		{Name: "router", Reporter: rt},
	})
	require.NoError(t, err)
	reg := prometheus.NewRegistry()
	require.NoError(t, reg.Register(c))
	assert.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(`# HELP ingress Envelopes the component took in.
# TYPE ingress counter
ingress{component="emitter"} 7
ingress{component="ingress_server"} 7
ingress{component="router"} 7
# HELP egress Envelopes the component handed on.
# TYPE egress counter
egress{component="emitter"} 7
egress{component="router"} 7
# HELP egress_by_shard Envelope copies handed to the subscriptions of one shard ID.
# TYPE egress_by_shard counter
egress_by_shard{component="router",shard_id="a"} 7
# HELP subscriptions Subscriptions open now.
# TYPE subscriptions gauge
subscriptions{component="router"} 1
# HELP buffered Envelopes waiting in the component's buffer now.
# TYPE buffered gauge
buffered{component="ingress_buffer"} 0
`+noneDropped), "ingress", "egress", "egress_by_shard", "subscriptions", "buffered", telemetry.DroppedSeries))
}

// A router's Emitter sends its counters to an agent through an
// ingress.Client, as Loggregator's router does (the -agent-addr of the
// example programs).
func TestEmitterThroughAnIngressClient(t *testing.T) {
	agent, agentBuf, client := startIngress(t)

	c := &counters{}
	c.ingress.Store(7)
	em, err := telemetry.NewEmitter("doppler", telemetry.SinkFunc(client.EmitBytes),
		[]telemetry.Component{{Name: "router", Reporter: c}}, telemetry.WithLabels(map[string]string{"job": "router"}))
	require.NoError(t, err)
	require.Equal(t, 3, em.Emit())
	c.ingress.Store(9)
	require.Equal(t, 3, em.Emit())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, client.Shutdown(ctx))
	require.Eventually(t, func() bool { return agent.Stats().Ingress == 6 }, 10*time.Second, 5*time.Millisecond)

	var got []string
	for {
		b, ok := agentBuf.TryNext()
		if !ok {
			break
		}
		var e envelope.Envelope
		require.NoError(t, proto.Unmarshal(b, &e))
		assert.Equal(t, "doppler", e.GetSourceId())
		assert.Equal(t, "router", e.GetTags()["job"])
		got = append(got, line(&e))
	}
	assert.Equal(t, []string{
		"router ingress 7/7", "router dropped 0/0", "router subscriptions =0",
		"router ingress 2/9", "router dropped 0/0", "router subscriptions =0",
	}, got)
}

// Every component that reports keeps the Reporter contract (no two series
// with the same name and tags) and agrees with the others on each name's
// kind: one collector over all of them gathers without error and leaves
// nothing out.
func TestEveryComponentReportsConsistently(t *testing.T) {
	buf, err := diode.NewManyToOne[[]byte](16)
	require.NoError(t, err)
	srv, err := ingress.NewServer(buf)
	require.NoError(t, err)
	defer srv.Close()
	client, err := ingress.NewClient("127.0.0.1:1")
	require.NoError(t, err)
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = client.Shutdown(ctx)
	}()
	pool, err := forward.NewPool(discovery.NewStatic())
	require.NoError(t, err)
	defer pool.Close()
	fwd, err := forward.NewForwarder(buf, pool)
	require.NoError(t, err)
	dst, err := diode.NewOneToOne[[]byte](4)
	require.NoError(t, err)
	fan, err := forward.NewFanout(buf, forward.FanoutDestination{Name: "audit", Buffer: dst})
	require.NoError(t, err)
	rt := subscribedRouter(t)
	es, err := serve.NewServer(rt)
	require.NoError(t, err)
	defer es.Close()
	gw, err := serve.NewGateway(rt)
	require.NoError(t, err)
	defer gw.Close()
	reader, err := nozzle.NewReader("127.0.0.1:1", logs)
	require.NoError(t, err)
	defer reader.Close()
	fh, err := nozzle.NewFirehose(discovery.NewStatic(), logs)
	require.NoError(t, err)
	defer fh.Close()
	gr, err := nozzle.NewGatewayReader("http://127.0.0.1:1", logs)
	require.NoError(t, err)
	defer gr.Close()

	c, err := telemetry.NewCollector([]telemetry.Component{
		{Name: "ingress_server", Reporter: srv},
		{Name: "ingress_client", Reporter: client},
		{Name: "pool", Reporter: pool},
		{Name: "forwarder", Reporter: fwd},
		{Name: "fanout", Reporter: fan},
		{Name: "router", Reporter: rt},
		{Name: "egress_server", Reporter: es},
		{Name: "gateway", Reporter: gw},
		{Name: "reader", Reporter: reader},
		{Name: "firehose", Reporter: fh},
		{Name: "gateway_reader", Reporter: gr},
		{Name: "buffer", Reporter: telemetry.Buffer(dst, "egress")},
	})
	require.NoError(t, err)
	reg := prometheus.NewPedanticRegistry()
	require.NoError(t, reg.Register(c))
	mfs, err := reg.Gather()
	require.NoError(t, err)
	components := map[string]bool{}
	for _, mf := range mfs {
		assert.NotEmpty(t, mf.GetHelp(), mf.GetName())
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "component" {
					components[l.GetValue()] = true
				}
			}
		}
	}
	assert.Len(t, components, 12, "every component reported")
	assert.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(noneDropped), telemetry.DroppedSeries))
}
