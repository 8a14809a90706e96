// Package collectortest runs the OpenTelemetry Collector's own OTLP
// receiver (gRPC) on a loopback port for the otlp module's tests.
package collectortest

import (
	"context"
	"net"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/configgrpc"
	"go.opentelemetry.io/collector/config/confignet"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/receiver/otlpreceiver"
	"go.opentelemetry.io/collector/receiver/receivertest"
)

// Start runs the receiver until the test ends, feeding the sinks it
// returns, and returns its address.
func Start(t *testing.T) (addr string, logs *consumertest.LogsSink, metrics *consumertest.MetricsSink) {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr = lis.Addr().String()
	require.NoError(t, lis.Close())

	f := otlpreceiver.NewFactory()
	cfg := f.CreateDefaultConfig().(*otlpreceiver.Config)
	g := configgrpc.NewDefaultServerConfig()
	g.NetAddr = confignet.AddrConfig{Endpoint: addr, Transport: confignet.TransportTypeTCP}
	cfg.Protocols = otlpreceiver.Protocols{GRPC: configoptional.Some(g)}
	logs, metrics = new(consumertest.LogsSink), new(consumertest.MetricsSink)
	set := receivertest.NewNopSettings(f.Type())
	lr, err := f.CreateLogs(context.Background(), set, cfg, logs)
	require.NoError(t, err)
	mr, err := f.CreateMetrics(context.Background(), set, cfg, metrics)
	require.NoError(t, err)
	require.NoError(t, lr.Start(context.Background(), componenttest.NewNopHost()))
	require.NoError(t, mr.Start(context.Background(), componenttest.NewNopHost()))
	t.Cleanup(func() {
		assert.NoError(t, lr.Shutdown(context.Background()))
		assert.NoError(t, mr.Shutdown(context.Background()))
	})
	return addr, logs, metrics
}
