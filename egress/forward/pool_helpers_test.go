package forward

import (
	"context"
	"crypto/tls"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	"github.com/sluicelog/sluice/diode"
	"github.com/sluicelog/sluice/discovery"
	"github.com/sluicelog/sluice/envelope"
	"github.com/sluicelog/sluice/ingress/ingresstest"
)

// poolTestRouter is a router stand-in: an ingresstest server over real
// gRPC with TLS that counts (and optionally keeps) what it receives, in a
// zone. It can crash and come back on the same address, and reset its
// connections while it stays up.
type poolTestRouter struct {
	*ingresstest.Server
	zone string
}

func poolStartRouter(t testing.TB, zone string, serverTLS *tls.Config, keep bool) *poolTestRouter {
	t.Helper()
	opts := []ingresstest.Option{
		ingresstest.WithTLS(serverTLS),
		// A fixed 64 KiB window (no BDP growth): what WithUnconfirmedBound assumes.
		ingresstest.WithServerOptions(grpc.InitialWindowSize(64<<10), grpc.InitialConnWindowSize(64<<10)),
	}
	if !keep {
		opts = append(opts, ingresstest.WithCountOnly())
	}
	s, err := ingresstest.NewServer(opts...)
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return &poolTestRouter{Server: s, zone: zone}
}

func (r *poolTestRouter) endpoint() discovery.Endpoint {
	return discovery.Endpoint{Addr: r.Addr(), Zone: r.zone}
}

// poolUnique merges what routers kept: distinct envelopes and duplicates.
func poolUnique(rs ...*poolTestRouter) (unique, dups int) {
	all := map[string]int{}
	for _, r := range rs {
		for _, e := range r.Raw() {
			all[string(e)]++
		}
	}
	for _, v := range all {
		unique++
		dups += v - 1
	}
	return unique, dups
}

// poolTestEnvelope is the envelope: a log with a 100-byte payload,
// a 36-character source ID and 3 tags; i makes it unique.
func poolTestEnvelope(tb testing.TB, i int) []byte {
	payload := []byte(fmt.Sprintf("%010d", i) + strings.Repeat("x", 90))
	e := envelope.NewLog("3f7c9a4e-1b2d-4c5e-8f6a-7b8c9d0e1f2a", payload,
		envelope.WithTag("deployment", "cf"), envelope.WithTag("job", "diego-cell"), envelope.WithTag("index", "0"))
	b, err := proto.Marshal(e)
	require.NoError(tb, err)
	return b
}

func poolEndpoints(rs ...*poolTestRouter) []discovery.Endpoint {
	eps := make([]discovery.Endpoint, len(rs))
	for i, r := range rs {
		eps[i] = r.endpoint()
	}
	return eps
}

// poolTestOptions are short timings for tests.
func poolTestOptions(clientTLS *tls.Config, more ...PoolOption) []PoolOption {
	return append([]PoolOption{
		WithTLS(clientTLS),
		WithBackoff(20*time.Millisecond, 300*time.Millisecond),
		WithProbe(50 * time.Millisecond),
		WithWait(2 * time.Second),
		WithConnectTimeout(2 * time.Second),
		WithSendTimeout(5 * time.Second),
	}, more...)
}

func poolRouterEnvs(rs ...*poolTestRouter) uint64 {
	var n uint64
	for _, r := range rs {
		n += r.Count()
	}
	return n
}

// poolHarness is an agent's way out under test: a diode, a Forwarder and a
// Pool, with a steady sender writing unique envelopes into the diode.
type poolHarness struct {
	t         *testing.T
	buf       *diode.OneToOne[[]byte]
	pool      *Pool
	fwd       *Forwarder
	fwdCancel context.CancelFunc
	fwdDone   chan error
	sent      atomic.Int64
	sendStop  chan struct{}
	sendDone  chan struct{}
}

func poolNewHarness(t *testing.T, src discovery.Source, opts ...PoolOption) *poolHarness {
	t.Helper()
	buf, err := diode.NewOneToOne[[]byte](200000)
	require.NoError(t, err)
	pool, err := NewPool(src, opts...)
	require.NoError(t, err)
	fwd, err := NewForwarder(buf, pool, WithBatch(50, 20*time.Millisecond))
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	h := &poolHarness{t: t, buf: buf, pool: pool, fwd: fwd, fwdCancel: cancel, fwdDone: make(chan error, 1)}
	go func() { h.fwdDone <- fwd.Run(ctx) }()
	t.Cleanup(func() {
		h.stopSending()
		cancel()
		<-h.fwdDone
		_ = pool.Close()
	})
	return h
}

// startSending writes perTick envelopes every tick until stopSending.
func (h *poolHarness) startSending(perTick int, tick time.Duration) {
	h.sendStop, h.sendDone = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(h.sendDone)
		t := time.NewTicker(tick)
		defer t.Stop()
		for {
			for range perTick {
				h.buf.Set(poolTestEnvelope(h.t, int(h.sent.Add(1))))
			}
			select {
			case <-h.sendStop:
				return
			case <-t.C:
			}
		}
	}()
}

func (h *poolHarness) stopSending() {
	if h.sendStop != nil {
		close(h.sendStop)
		<-h.sendDone
		h.sendStop = nil
	}
}

// finish stops sending, drains the forwarder, shuts the pool down
// gracefully and checks the forwarder's books against the diode's.
func (h *poolHarness) finish() (ForwarderStats, PoolStats) {
	h.t.Helper()
	h.stopSending()
	h.fwdCancel()
	require.NoError(h.t, <-h.fwdDone)
	h.fwdDone <- nil // for Cleanup
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	require.NoError(h.t, h.pool.Shutdown(ctx))
	fs, ps := h.fwd.Stats(), h.pool.Stats()
	bs := h.buf.Stats()
	require.Equal(h.t, uint64(h.sent.Load()), bs.Written)
	require.Equal(h.t, bs.Written, bs.Read+bs.Dropped, "diode books")
	require.Equal(h.t, bs.Read, fs.Read, "forwarder read everything the diode gave")
	require.Equal(h.t, fs.Read, fs.Egress+fs.Dropped.Total(), "every envelope read is sent or counted dropped")
	require.Zero(h.t, fs.Pending)
	require.Equal(h.t, fs.Egress, ps.Sent, "forwarder and pool agree on sent")
	fromPool := fs.Dropped.Clone()
	delete(fromPool, CauseShutdown) // the forwarder's own
	if len(fromPool) == 0 {
		fromPool = nil
	}
	require.Equal(h.t, fromPool, ps.Dropped, "forwarder and pool agree on drops")
	return fs, ps
}
