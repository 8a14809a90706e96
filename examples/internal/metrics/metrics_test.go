package metrics_test

import (
	"context"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
	"google.golang.org/protobuf/proto"

	"github.com/sluicelog/sluice/diode"
	"github.com/sluicelog/sluice/envelope"
	"github.com/sluicelog/sluice/examples/internal/metrics"
	"github.com/sluicelog/sluice/ingress"
	"github.com/sluicelog/sluice/internal/testtls"
	"github.com/sluicelog/sluice/stats"
	"github.com/sluicelog/sluice/telemetry"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestStartServesMetricsAndEmitsToAnAgent(t *testing.T) {
	_, serverTLS, clientTLS := testtls.Must(t)
	buf, err := diode.NewManyToOne[[]byte](100)
	require.NoError(t, err)
	agent, err := ingress.NewServer(buf, ingress.WithTLS(serverTLS))
	require.NoError(t, err)
	addr, err := agent.Start("127.0.0.1:0")
	require.NoError(t, err)
	defer agent.Close()

	var n uint64 = 3
	router := stats.ReporterFunc(func(emit func(stats.Metric)) { emit(stats.CounterOf(stats.Ingress, stats.HelpIngress, n)) })
	tel, err := metrics.Start(metrics.Config{
		MetricsAddr: "127.0.0.1:0", AgentAddr: addr.String(), AgentTLS: clientTLS,
		SourceID: "doppler", Labels: map[string]string{"job": "router"}, Interval: time.Hour,
	}, []telemetry.Component{{Name: "router", Reporter: router}})
	require.NoError(t, err)
	defer tel.Close()

	resp, err := http.Get(tel.URL())
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, resp.Body.Close())
	require.NoError(t, err)
	assert.Contains(t, string(body), "# HELP ingress Envelopes the component took in.\n# TYPE ingress counter\ningress{component=\"router\",job=\"router\"} 3\n")
	assert.Contains(t, string(body), "go_goroutines", "the registry has the Go collector too")

	// Shutdown emits the final totals (the interval never came) and flushes.
	n = 5
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, tel.Shutdown(ctx))
	require.Eventually(t, func() bool { return agent.Stats().Ingress == 1 }, 10*time.Second, 5*time.Millisecond)
	b, ok := buf.TryNext()
	require.True(t, ok)
	var e envelope.Envelope
	require.NoError(t, proto.Unmarshal(b, &e))
	assert.Equal(t, "doppler", e.GetSourceId())
	assert.Equal(t, map[string]string{"component": "router", "job": "router"}, e.GetTags())
	assert.Equal(t, uint64(5), e.GetCounter().GetTotal())
	assert.Equal(t, uint64(5), e.GetCounter().GetDelta())
	assert.NoError(t, tel.Close(), "Close after Shutdown")
}

func TestStartWithNothingToDoIsANoOp(t *testing.T) {
	tel, err := metrics.Start(metrics.Config{}, nil)
	require.NoError(t, err)
	assert.Nil(t, tel)
	assert.Equal(t, "", tel.URL())
	assert.NoError(t, tel.Shutdown(context.Background()))
	assert.NoError(t, tel.Close())
}
