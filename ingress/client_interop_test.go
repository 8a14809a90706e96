package ingress

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sluicelog/sluice/ingress/ingresstest"
)

// Loggregator's router answers the end of a BatchSender stream with
// Unknown "EOF" after reading all of it: for the Client that confirms the
// stream. Its unary Send is Unimplemented: acknowledged mode counts those
// batches dropped ("send").
func TestClientToLoggregatorRouter(t *testing.T) {
	tp := newTLS(t)
	router, err := ingresstest.NewServer(ingresstest.WithTLS(tp.server), ingresstest.WithLoggregatorAnswers())
	require.NoError(t, err)
	defer router.Close()

	c := newClient(t, router.Addr(), WithTLS(tp.client), WithBatch(10, time.Millisecond), WithConfirmEvery(3))
	emit(c, 2, 100)
	require.NoError(t, c.Shutdown(testCtx(t)))
	st := checkClosed(t, c)
	assert.Equal(t, uint64(100), router.Count())
	assert.Equal(t, uint64(100), st.Confirmed, "the EOF answer confirms")
	assert.Zero(t, st.Unconfirmed)

	// One batch of 10 (the batch fills before its interval), so a loaded
	// machine does not multiply refused Sends and reconnects.
	ack := newClient(t, router.Addr(), WithTLS(tp.client), WithBatch(10, time.Hour), WithAcknowledged(0),
		WithBackoff(time.Millisecond, 5*time.Millisecond))
	emit(ack, 1, 10)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute) // bounds a hang only
	defer cancel()
	require.NoError(t, ack.Shutdown(ctx))
	st = checkClosed(t, ack)
	assert.Equal(t, uint64(10), st.Dropped[CauseSend], "Unimplemented: not delivered")
	assert.Zero(t, st.Confirmed)
	assert.Equal(t, uint64(100), router.Count())
}
