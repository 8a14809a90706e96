package serve

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/sluicelog/sluice/envelope"
	"github.com/sluicelog/sluice/internal/testtls"
	"github.com/sluicelog/sluice/internal/wire"
	"github.com/sluicelog/sluice/stats"
)

// TestServerEvictsStreamThatDoesNotRead: a gRPC client that opens a stream
// (BatchedReceiver or Receiver) and then reads nothing is evicted once a
// send has blocked for the send timeout: its stream ends with
// DeadlineExceeded, the eviction is counted, the blocked send's envelopes
// are counted under its shard ID with cause write_timeout, and every
// envelope routed to it is sent or counted; a client on another shard ID
// receives everything meanwhile.
func TestServerEvictsStreamThatDoesNotRead(t *testing.T) {
	for _, batched := range []bool{true, false} {
		name := "Receiver"
		if batched {
			name = "BatchedReceiver"
		}
		t.Run(name, func(t *testing.T) {
			r := routerTestNew(t, WithSubscriptionDiode(100), WithGroupGrace(0))
			_, serverTLS, clientTLS := testtls.Must(t)
			srv, err := NewServer(r, WithTLS(serverTLS), WithSendTimeout(time.Second), WithBatch(10, 10*time.Millisecond))
			require.NoError(t, err)
			addr, err := srv.Start("127.0.0.1:0")
			require.NoError(t, err)
			t.Cleanup(func() { _ = srv.Close() })
			cc := serverTestDial(t, addr.String(), clientTLS)
			// The slow client has a connection of its own with a fixed
			// window: the fast client's traffic must not widen it (grpc's
			// BDP estimation), or its sends would only be slow, not stuck.
			slowCC := serverTestDial(t, addr.String(), clientTLS, grpc.WithInitialWindowSize(1<<16), grpc.WithInitialConnWindowSize(1<<16))
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			open := func(cc *grpc.ClientConn, shard string) grpc.ClientStream {
				sels := []*envelope.Selector{routerTestLogs("")}
				var s grpc.ClientStream
				var err error
				if batched {
					s, err = wire.OpenBatchedReceiver(ctx, cc, &envelope.EgressBatchRequest{ShardId: shard, Selectors: sels})
				} else {
					s, err = wire.OpenReceiver(ctx, cc, &envelope.EgressRequest{ShardId: shard, Selectors: sels})
				}
				require.NoError(t, err)
				return s
			}
			slow := open(slowCC, "slow")
			fast := open(cc, "fast")
			serverTestWaitSubs(t, r, 2)

			env := routerTestMarshal(t, envelope.NewLog("app", make([]byte, 4096)))
			n, received := 0, 0
			recv := func() {
				if batched {
					var b wire.Batch
					require.NoError(t, fast.RecvMsg(&b))
					require.NoError(t, b.Split())
					received += len(b.Envelopes)
					return
				}
				var e wire.Envelope
				require.NoError(t, fast.RecvMsg(&e))
				received++
			}
			deadline := time.Now().Add(20 * time.Second)
			for srv.Stats().Evicted == 0 {
				require.True(t, time.Now().Before(deadline), "the slow stream was never evicted")
				for range 20 {
					require.NoError(t, r.Publish(env))
				}
				n += 20
				for received < n {
					recv()
				}
			}
			serverTestWaitSubs(t, r, 1)
			require.Eventually(t, func() bool { return srv.Stats().Streams == 1 }, 10*time.Second, time.Millisecond)

			// The evicted client learns why once it reads.
			err = nil
			for err == nil {
				var b wire.Batch
				err = slow.RecvMsg(&b)
			}
			assert.Equal(t, codes.DeadlineExceeded, status.Code(err), "%v", err)
			assert.Contains(t, status.Convert(err).Message(), "client is not reading")

			// The blocked send lands in the books after the handler returned.
			booksClose := func() bool {
				rs, ss := r.Stats(), srv.Stats()
				return rs.Shards["slow"].Egress == ss.Egress-uint64(n)+ss.DroppedByShard["slow"].Total()+rs.Shards["slow"].Dropped.Total()
			}
			require.Eventually(t, booksClose, 10*time.Second, time.Millisecond, "router %+v, server %+v", r.Stats(), srv.Stats())
			ss := srv.Stats()
			assert.Equal(t, uint64(1), ss.Evicted)
			assert.Equal(t, n, received, "the other client got everything")
			assert.Equal(t, []string{CauseWriteTimeout}, ss.DroppedByShard["slow"].Causes())
			lost := ss.DroppedByShard["slow"][CauseWriteTimeout]
			// One blocked batch (Receiver: the blocked envelope and the rest
			// of its batch) of at most 10.
			assert.True(t, lost >= 1 && lost <= 10, "one blocked batch: %d", lost)
			assert.Empty(t, ss.DroppedByShard["fast"])
			assert.Equal(t, uint64(1), func() uint64 {
				var v uint64
				srv.Report(func(m stats.Metric) {
					if m.Name == evictedStreams {
						v = uint64(m.Value)
					}
				})
				return v
			}())
		})
	}
}
