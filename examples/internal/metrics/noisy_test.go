package metrics_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/sluicelog/sluice/envelope"
	"github.com/sluicelog/sluice/examples/internal/metrics"
	"github.com/sluicelog/sluice/limit"
	"github.com/sluicelog/sluice/telemetry"
)

func TestNoisyHandlerServesTheSummary(t *testing.T) {
	b, err := limit.NewBuffer(limit.BufferConfig{Policy: limit.PolicyFair, Size: 4})
	require.NoError(t, err)
	defer b.Close()
	for i, id := range []string{"noisy", "noisy", "noisy", "noisy", "noisy", "quiet"} {
		e, err := proto.Marshal(envelope.NewLog(id, []byte{byte(i)}))
		require.NoError(t, err)
		b.Set(e)
	}
	h := metrics.NoisyHandler(b)

	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, metrics.NoisyPath, nil))
	require.Equal(t, http.StatusOK, rec.Code)
	assert.Equal(t, "application/json", rec.Header().Get("Content-Type"))
	var got metrics.Noisy
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &got))
	assert.Equal(t, limit.PolicyFair, got.Policy)
	assert.Equal(t, uint64(6), got.Buffer.Written)
	assert.Equal(t, uint64(2), got.Buffer.Dropped)
	assert.Nil(t, got.Limiter)
	assert.Equal(t, []metrics.NoisySource{{SourceID: "noisy", Count: 5}, {SourceID: "quiet", Count: 1}}, got.Sent)
	assert.Equal(t, []metrics.NoisySource{{SourceID: "noisy", Count: 2}}, got.Dropped)
	assert.Equal(t, uint64(6), got.TotalSent)
	assert.Equal(t, uint64(2), got.TotalDropped)

	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, metrics.NoisyPath, nil))
	assert.Equal(t, http.StatusMethodNotAllowed, rec.Code)
}

// A program's /metrics carries the buffer's heavy hitters as a bounded
// set of series, and /debug/noisy sits beside it.
func TestStartServesHeavyHittersAndDebugNoisy(t *testing.T) {
	b, err := limit.NewBuffer(limit.BufferConfig{Policy: limit.PolicyFair, Size: 2})
	require.NoError(t, err)
	defer b.Close()
	for _, id := range []string{"noisy", "noisy", "noisy", "quiet"} {
		e, err := proto.Marshal(envelope.NewLog(id, []byte("x")))
		require.NoError(t, err)
		b.Set(e)
	}
	tel, err := metrics.Start(metrics.Config{MetricsAddr: "127.0.0.1:0", Labels: map[string]string{"job": "router"},
		Handlers: map[string]http.Handler{metrics.NoisyPath: metrics.NoisyHandler(b)}},
		[]telemetry.Component{{Name: "ingress_buffer", Reporter: b}})
	require.NoError(t, err)
	defer tel.Close()

	get := func(url string) string {
		resp, err := http.Get(url)
		require.NoError(t, err)
		defer resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return string(body)
	}
	m := get(tel.URL())
	for _, want := range []string{
		`heavy_hitter_sent{component="ingress_buffer",job="router",rank="1",source="noisy"} 3`,
		`heavy_hitter_sent{component="ingress_buffer",job="router",rank="2",source="quiet"} 1`,
		`heavy_hitter_dropped{component="ingress_buffer",job="router",rank="1",source="noisy"} 2`,
		`dropped{cause="overflow",component="ingress_buffer",direction="ingress",job="router"} 2`,
		`buffered{component="ingress_buffer",job="router"} 2`,
	} {
		assert.Contains(t, m, want)
	}
	assert.Contains(t, get(strings.TrimSuffix(tel.URL(), "/metrics")+metrics.NoisyPath), `"source_id": "noisy"`)
}
