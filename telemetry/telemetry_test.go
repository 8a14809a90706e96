package telemetry_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
	"google.golang.org/protobuf/proto"

	"github.com/sluicelog/sluice/diode"
	"github.com/sluicelog/sluice/envelope"
	"github.com/sluicelog/sluice/telemetry"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type fake struct{ ingress, dropped, subs atomic.Int64 }

func (f *fake) Metrics(dst []telemetry.Metric) []telemetry.Metric {
	return append(dst,
		telemetry.Metric{Name: "ingress", Kind: telemetry.Counter, Value: float64(f.ingress.Load())},
		telemetry.Metric{Name: "dropped", Kind: telemetry.Counter, Value: float64(f.dropped.Load()), Tags: map[string]string{"direction": "ingress"}},
		telemetry.Metric{Name: "subscriptions", Kind: telemetry.Gauge, Value: float64(f.subs.Load())},
	)
}

func drain(t *testing.T, buf diode.Buffer[[]byte]) []*envelope.Envelope {
	var out []*envelope.Envelope
	for {
		b, ok := buf.TryNext()
		if !ok {
			return out
		}
		var e envelope.Envelope
		require.NoError(t, proto.Unmarshal(b, &e))
		out = append(out, &e)
	}
}

func TestEmitterCountersCarryDeltaAndTotal(t *testing.T) {
	f := &fake{}
	buf, err := diode.NewOneToOne[[]byte](100)
	require.NoError(t, err)
	src := telemetry.WithTags(f, map[string]string{"component": "router"})
	em, err := telemetry.NewEmitter("doppler", src, buf, telemetry.WithEnvelopeTags(map[string]string{"deployment": "cf"}))
	require.NoError(t, err)

	f.ingress.Store(10)
	f.dropped.Store(2)
	f.subs.Store(3)
	require.Equal(t, 3, em.Emit())
	first := drain(t, buf)
	require.Len(t, first, 3)
	assert.Equal(t, "doppler", first[0].GetSourceId())
	assert.Equal(t, "ingress", first[0].GetCounter().GetName())
	assert.Equal(t, uint64(10), first[0].GetCounter().GetDelta())
	assert.Equal(t, uint64(10), first[0].GetCounter().GetTotal())
	assert.Equal(t, map[string]string{"component": "router", "deployment": "cf"}, first[0].GetTags())
	assert.Equal(t, "ingress", first[1].GetTags()["direction"])
	assert.Equal(t, uint64(2), first[1].GetCounter().GetDelta())
	assert.Equal(t, 3.0, first[2].GetGauge().GetMetrics()["subscriptions"].GetValue())

	f.ingress.Store(25)
	f.subs.Store(1)
	require.Equal(t, 3, em.Emit())
	second := drain(t, buf)
	assert.Equal(t, uint64(15), second[0].GetCounter().GetDelta())
	assert.Equal(t, uint64(25), second[0].GetCounter().GetTotal())
	assert.Equal(t, uint64(0), second[1].GetCounter().GetDelta())
	assert.Equal(t, 1.0, second[2].GetGauge().GetMetrics()["subscriptions"].GetValue())

	_, err = telemetry.NewEmitter("", f, buf)
	assert.ErrorIs(t, err, telemetry.ErrNoSourceID)
}

func TestEmitterRunEmitsOnIntervalAndAtEnd(t *testing.T) {
	f := &fake{}
	buf, err := diode.NewOneToOne[[]byte](1000)
	require.NoError(t, err)
	em, err := telemetry.NewEmitter("agent", f, buf, telemetry.WithInterval(10*time.Millisecond))
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- em.Run(ctx) }()
	require.Eventually(t, func() bool { return buf.Stats().Written >= 6 }, 10*time.Second, 5*time.Millisecond)
	cancel()
	require.ErrorIs(t, <-done, context.Canceled)
	assert.Zero(t, buf.Stats().Written%3, "every emission carries all three series")
}

func TestPrometheusHandler(t *testing.T) {
	f := &fake{}
	f.ingress.Store(7)
	f.dropped.Store(1)
	f.subs.Store(2)
	srv := httptest.NewServer(telemetry.Handler(f, map[string]string{"source_id": "doppler"}))
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/metrics")
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	assert.Equal(t, "text/plain; version=0.0.4; charset=utf-8", resp.Header.Get("Content-Type"))
	assert.Equal(t, `# TYPE dropped counter
dropped{direction="ingress",source_id="doppler"} 1
# TYPE ingress counter
ingress{source_id="doppler"} 7
# TYPE subscriptions gauge
subscriptions{source_id="doppler"} 2
`, string(body))

	resp, err = http.Post(srv.URL+"/metrics", "text/plain", nil)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)
}

func TestEmitterCountsEnvelopesItCannotMarshal(t *testing.T) {
	buf, err := diode.NewOneToOne[[]byte](10)
	require.NoError(t, err)
	bad := telemetry.SourceFunc(func(dst []telemetry.Metric) []telemetry.Metric {
		return append(dst,
			telemetry.Metric{Name: "ingress", Kind: telemetry.Counter, Value: 1},
			telemetry.Metric{Name: "ingress", Kind: telemetry.Counter, Value: 2, Tags: map[string]string{"zone": "\xff"}},
		)
	})
	em, err := telemetry.NewEmitter("doppler", bad, buf)
	require.NoError(t, err)
	assert.Equal(t, 1, em.Emit())
	assert.Equal(t, uint64(1), em.Emitted())
	assert.Equal(t, uint64(1), em.Failed(), "the invalid envelope is counted, not silently lost")
	assert.Equal(t, uint64(1), buf.Stats().Written)
}
