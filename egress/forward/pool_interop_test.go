package forward

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/sluicelog/sluice/discovery"
	"github.com/sluicelog/sluice/ingress/ingresstest"
	"github.com/sluicelog/sluice/internal/testtls"
)

// Loggregator's router answers the end of a BatchSender stream with
// Unknown "EOF" after reading all of it: for the pool that confirms the
// stream, as OK does. (Its unary Send is Unimplemented: acknowledged mode
// needs a sluice router.)
func TestPoolStreamsToLoggregatorRouter(t *testing.T) {
	_, serverTLS, clientTLS := testtls.Must(t)
	router, err := ingresstest.NewServer(ingresstest.WithTLS(serverTLS), ingresstest.WithLoggregatorAnswers(), ingresstest.WithCountOnly())
	require.NoError(t, err)
	defer router.Close()
	h := poolNewHarness(t, discovery.NewStatic(discovery.Endpoint{Addr: router.Addr()}),
		poolTestOptions(clientTLS, WithStreams(2))...)
	h.startSending(50, 5*time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	require.NoError(t, router.WaitFor(ctx, 2000))
	fs, ps := h.finish()
	assert.Equal(t, fs.Egress, router.Count(), "the router has everything the pool sent")
	assert.Zero(t, ps.Unconfirmed, "the EOF answer confirms the stream")
	assert.Zero(t, fs.Dropped.Total())
	assert.Equal(t, uint64(2), router.Counts().BatchSender.Calls)
}

// A router that answers the end of a stream with an error has not
// confirmed it: what the stream carried last is counted unconfirmed.
func TestPoolStreamEndRefusedIsUnconfirmed(t *testing.T) {
	_, serverTLS, clientTLS := testtls.Must(t)
	router, err := ingresstest.NewServer(ingresstest.WithTLS(serverTLS), ingresstest.WithCountOnly())
	require.NoError(t, err)
	defer router.Close()
	h := poolNewHarness(t, discovery.NewStatic(discovery.Endpoint{Addr: router.Addr()}),
		poolTestOptions(clientTLS, WithStreams(1))...)
	for i := range 100 {
		h.buf.Set(poolTestEnvelope(t, i))
	}
	h.sent.Store(100)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	require.NoError(t, router.WaitFor(ctx, 100))
	router.Refuse(status.Error(codes.Internal, "lost it"))
	fs, ps := h.finish()
	assert.Equal(t, uint64(100), fs.Egress)
	assert.Equal(t, uint64(100), ps.Unconfirmed, "the refused answer confirms nothing")
	assert.Equal(t, uint64(1), router.Counts().BatchSender.Refused)
}
