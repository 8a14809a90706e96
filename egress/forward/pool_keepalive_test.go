package forward

import (
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sluicelog/sluice/discovery"
	"github.com/sluicelog/sluice/internal/testtls"
)

// poolBlackhole is a TCP proxy in front of a router that can start
// swallowing everything in both directions while keeping its connections
// open: a router whose host died or was cut off without a reset, which only
// keepalive can notice.
type poolBlackhole struct {
	lis    net.Listener
	target string
	dead   atomic.Bool
	mu     sync.Mutex
	conns  []net.Conn
	wg     sync.WaitGroup
}

func poolStartBlackhole(t *testing.T, target string) *poolBlackhole {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	b := &poolBlackhole{lis: lis, target: target}
	b.wg.Add(1)
	go b.accept()
	t.Cleanup(b.close)
	return b
}

func (b *poolBlackhole) accept() {
	defer b.wg.Done()
	for {
		c, err := b.lis.Accept()
		if err != nil {
			return
		}
		u, err := net.Dial("tcp", b.target)
		if err != nil {
			c.Close()
			continue
		}
		b.mu.Lock()
		b.conns = append(b.conns, c, u)
		b.mu.Unlock()
		b.wg.Add(2)
		go b.pipe(c, u)
		go b.pipe(u, c)
	}
}

// pipe copies src to dst until the proxy dies, then reads and discards.
func (b *poolBlackhole) pipe(src, dst net.Conn) {
	defer b.wg.Done()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 && !b.dead.Load() {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (b *poolBlackhole) addr() string { return b.lis.Addr().String() }

func (b *poolBlackhole) close() {
	b.lis.Close()
	b.mu.Lock()
	for _, c := range b.conns {
		c.Close()
	}
	b.mu.Unlock()
	b.wg.Wait()
}

// A router that goes silent (no reset, no answers) is found dead by gRPC
// keepalive within seconds: its streams move to the healthy router and
// delivery goes on; what was written into the dead streams is counted as
// unconfirmed, never silently.
func TestPoolKeepaliveDetectsSilentRouter(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for grpc-go's 10 s minimum keepalive time")
	}
	_, serverTLS, clientTLS := testtls.Must(t)
	healthy := poolStartRouter(t, "z1", serverTLS, false)
	doomed := poolStartRouter(t, "z1", serverTLS, false)
	hole := poolStartBlackhole(t, doomed.endpoint().Addr)
	src := discovery.NewStatic(healthy.endpoint(), discovery.Endpoint{Addr: hole.addr(), Zone: "z1"})
	// grpc-go pings no more often than every 10 s; the answer must come
	// within 2 s. Recycling is far off so only keepalive can move streams.
	h := poolNewHarness(t, src, poolTestOptions(clientTLS,
		WithStreams(2), WithKeepalive(10*time.Second, 2*time.Second), WithRecycle(time.Hour))...)
	h.startSending(50, 10*time.Millisecond)
	require.Eventually(t, func() bool {
		s := h.pool.Stats().StreamsByRouter
		return s[healthy.endpoint().Addr] == 1 && s[hole.addr()] == 1
	}, 10*time.Second, 10*time.Millisecond, "one stream per router")
	require.Eventually(t, func() bool { return doomed.Count() > 0 }, 10*time.Second, 10*time.Millisecond)

	hole.dead.Store(true)
	died := time.Now()
	require.Eventually(t, func() bool {
		return h.pool.Stats().StreamsByRouter[hole.addr()] == 0
	}, 20*time.Second, 50*time.Millisecond, "keepalive must notice the silent router")
	detected := time.Since(died)
	t.Logf("silent router detected after %v", detected)
	assert.Less(t, detected, 15*time.Second, "10 s keepalive time + 2 s timeout, with slack for a loaded machine")

	before := healthy.Count()
	require.Eventually(t, func() bool { return healthy.Count() > before+1000 }, 10*time.Second, 10*time.Millisecond, "delivery goes on")
	fs, ps := h.finish()
	delivered := uint64(healthy.Count() + doomed.Count())
	// Streaming mode: what the dead streams swallowed is not delivered and
	// not dropped, but it is within what the pool counted unconfirmed.
	lost := fs.Egress - delivered
	assert.LessOrEqual(t, lost, ps.Unconfirmed, "uncounted loss within the unconfirmed bound")
	t.Logf("sent %d, delivered %d, lost in the dead stream %d (unconfirmed bound %d)", fs.Egress, delivered, lost, ps.Unconfirmed)
}
