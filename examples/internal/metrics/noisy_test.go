package metrics_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/sluicelog/sluice/envelope"
	"github.com/sluicelog/sluice/examples/internal/metrics"
	"github.com/sluicelog/sluice/limit"
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
	assert.Equal(t, []limit.SourceCount{{SourceID: "noisy", Count: 5}, {SourceID: "quiet", Count: 1}}, got.Sent)
	assert.Equal(t, []limit.SourceCount{{SourceID: "noisy", Count: 2}}, got.Dropped)
	assert.Equal(t, uint64(6), got.TotalSent)
	assert.Equal(t, uint64(2), got.TotalDropped)

	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, metrics.NoisyPath, nil))
	assert.Equal(t, http.StatusMethodNotAllowed, rec.Code)
}
