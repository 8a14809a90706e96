package forward

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/protobuf/proto"

	"github.com/sluicelog/sluice/diode"
	"github.com/sluicelog/sluice/discovery"
	"github.com/sluicelog/sluice/envelope"
	"github.com/sluicelog/sluice/internal/wire"
)

// poolTestRouter is a router stand-in: a raw Ingress handler that counts
// (and optionally keeps) what it receives, over real gRPC with TLS. It can be
// stopped abruptly, started again on the same address, and can reset its
// connections while its gRPC server stays up.
type poolTestRouter struct {
	t    testing.TB
	zone string
	tls  *tls.Config
	keep bool

	mu   sync.Mutex
	addr string
	gs   *grpc.Server
	lis  *poolResetListener
	got  map[string]int

	envs, batches atomic.Int64
}

func poolStartRouter(t testing.TB, zone string, serverTLS *tls.Config, keep bool) *poolTestRouter {
	t.Helper()
	r := &poolTestRouter{t: t, zone: zone, tls: serverTLS, keep: keep, addr: "127.0.0.1:0", got: map[string]int{}}
	r.start()
	t.Cleanup(r.stop)
	return r
}

func (r *poolTestRouter) start() {
	r.t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	var l net.Listener
	var err error
	for range 50 { // the old socket of a restarted router may linger briefly
		if l, err = net.Listen("tcp", r.addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	require.NoError(r.t, err)
	r.addr = l.Addr().String()
	r.lis = &poolResetListener{Listener: l}
	opts := []grpc.ServerOption{
		wire.ServerOption(),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: time.Second, PermitWithoutStream: true}),
		// A fixed 64 KiB window (no BDP growth): what WithUnconfirmedBound assumes.
		grpc.InitialWindowSize(64 << 10),
		grpc.InitialConnWindowSize(64 << 10),
	}
	if r.tls != nil {
		opts = append(opts, grpc.Creds(credentials.NewTLS(r.tls)))
	}
	gs := grpc.NewServer(opts...)
	wire.RegisterIngress(gs, r)
	r.gs = gs
	lis := r.lis
	go func() { _ = gs.Serve(lis) }()
}

// stop closes the router abruptly (every connection at once).
func (r *poolTestRouter) stop() {
	r.mu.Lock()
	gs := r.gs
	r.gs = nil
	r.mu.Unlock()
	if gs != nil {
		gs.Stop()
	}
}

// reset closes the router's TCP connections; its gRPC server stays up.
func (r *poolTestRouter) reset() {
	r.mu.Lock()
	lis := r.lis
	r.mu.Unlock()
	lis.resetAll()
}

func (r *poolTestRouter) endpoint() discovery.Endpoint {
	r.mu.Lock()
	defer r.mu.Unlock()
	return discovery.Endpoint{Addr: r.addr, Zone: r.zone}
}

func (r *poolTestRouter) record(b *wire.Batch) error {
	if err := b.Split(); err != nil {
		return err
	}
	if r.keep {
		r.mu.Lock()
		for _, e := range b.Envelopes {
			r.got[string(e)]++
		}
		r.mu.Unlock()
	}
	r.envs.Add(int64(len(b.Envelopes)))
	r.batches.Add(1)
	return nil
}

func (r *poolTestRouter) Sender(s grpc.ServerStream) error {
	for {
		var e wire.Envelope
		if err := s.RecvMsg(&e); err != nil {
			if err == io.EOF {
				return s.SendMsg(&envelope.IngressResponse{})
			}
			return err
		}
	}
}

func (r *poolTestRouter) BatchSender(s grpc.ServerStream) error {
	for {
		var b wire.Batch
		if err := s.RecvMsg(&b); err != nil {
			if err == io.EOF {
				return s.SendMsg(&envelope.BatchSenderResponse{})
			}
			return err
		}
		if err := r.record(&b); err != nil {
			return err
		}
	}
}

func (r *poolTestRouter) Send(_ context.Context, b *wire.Batch) error { return r.record(b) }

// poolUnique merges what routers kept: distinct envelopes and duplicates.
func poolUnique(rs ...*poolTestRouter) (unique, dups int) {
	all := map[string]int{}
	for _, r := range rs {
		r.mu.Lock()
		for k, v := range r.got {
			all[k] += v
		}
		r.mu.Unlock()
	}
	for _, v := range all {
		unique++
		dups += v - 1
	}
	return unique, dups
}

type poolResetListener struct {
	net.Listener
	mu    sync.Mutex
	conns []net.Conn
}

func (l *poolResetListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.mu.Lock()
		l.conns = append(l.conns, c)
		l.mu.Unlock()
	}
	return c, err
}

func (l *poolResetListener) resetAll() {
	l.mu.Lock()
	conns := l.conns
	l.conns = nil
	l.mu.Unlock()
	for _, c := range conns {
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetLinger(0) // RST, as a network fault would
		}
		_ = c.Close()
	}
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

func poolRouterEnvs(rs ...*poolTestRouter) int64 {
	var n int64
	for _, r := range rs {
		n += r.envs.Load()
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
