package nozzle_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sluicelog/sluice/internal/testtls"
	"github.com/sluicelog/sluice/nozzle"
	"github.com/sluicelog/sluice/stats"
)

// WithBufferBytes: a consumer that reads nothing holds at most the bytes
// asked for; the rest is dropped and counted, and what it holds is read
// in order afterwards.
func TestReaderBufferBytes(t *testing.T) {
	_, serverTLS, clientTLS := testtls.Must(t)
	router := startFakeRouter(t, serverTLS)
	batch := seqBatch(t, "app", 0, 100) // payloads "0".."99"
	size := len(batch[0])               // "0".."9": the first ten have one size
	r, err := nozzle.NewReader(router.Addr(), logRequest("s1"), nozzle.WithTLS(clientTLS), nozzle.WithBufferBytes(int64(10*size)))
	require.NoError(t, err)
	defer r.Close()
	waitSubs(t, router, 1)
	publish(t, router, batch[:10])
	publish(t, router, batch[10:])
	require.Eventually(t, func() bool { return r.Stats().Received == 100 }, 20*time.Second, 5*time.Millisecond)
	st := r.Stats()
	assert.Equal(t, stats.Drops{nozzle.CauseOverflow: 90}, st.Dropped)
	for i := range 10 {
		e, ok := r.TryNext()
		require.True(t, ok)
		assert.Equal(t, batch[i], e)
	}
	_, ok := r.TryNext()
	assert.False(t, ok)

	_, err = nozzle.NewReader(router.Addr(), logRequest("s1"), nozzle.WithBufferBytes(-1))
	assert.ErrorIs(t, err, nozzle.ErrInvalidConfig)
}
