package nozzle_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/sluicelog/sluice/egress/egresstest"
	"github.com/sluicelog/sluice/envelope"
)

// startFakeRouter starts a stand-in router: an egresstest server that plays
// what the test publishes to its BatchedReceiver subscribers, closed when
// the test ends.
func startFakeRouter(t testing.TB, serverTLS *tls.Config) *egresstest.Server {
	t.Helper()
	r, err := egresstest.NewServer(egresstest.WithTLS(serverTLS))
	require.NoError(t, err)
	t.Cleanup(func() { r.Close() })
	return r
}

// waitSubs waits until r has n subscribers.
func waitSubs(t testing.TB, r *egresstest.Server, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	require.NoError(t, r.WaitSubscribers(ctx, n), r.Addr())
}

// publish sends b to every subscriber of r as one batch, waiting until each
// has taken it. It may be called from any goroutine.
func publish(t testing.TB, r *egresstest.Server, b [][]byte) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := r.PublishBytes(ctx, b); err != nil {
		t.Errorf("publish to %s: %v", r.Addr(), err)
	}
}

// seqBatch returns n log envelopes from sourceID numbered from first.
func seqBatch(t testing.TB, sourceID string, first, n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		b, err := proto.Marshal(envelope.NewLog(sourceID, fmt.Appendf(nil, "%d", first+i)))
		require.NoError(t, err)
		out[i] = b
	}
	return out
}

func logRequest(shard string) *envelope.EgressBatchRequest {
	return &envelope.EgressBatchRequest{
		ShardId:   shard,
		Selectors: []*envelope.Selector{{Message: &envelope.Selector_Log{Log: &envelope.LogSelector{}}}},
	}
}

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func decodeEnv(b []byte) (*envelope.Envelope, error) {
	e := new(envelope.Envelope)
	return e, proto.Unmarshal(b, e)
}
