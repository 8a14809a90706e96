package examples_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/sluicelog/sluice/envelope"
	"github.com/sluicelog/sluice/ingress"
	"github.com/sluicelog/sluice/nozzle"
)

// Sizes of the hostile-clients router: a 64 MiB memory budget, at most 20
// streams each on gRPC and the gateway, 20 shard groups and 200
// connections per listener.
const (
	hostileBudget    = 64 << 20
	hostileStreams   = 20
	hostileShards    = 20
	hostileMaxConns  = 200
	hostileGoodCount = 3000
)

// TestHostileClients runs the router program with mutual TLS and a small
// memory budget. A well-behaved publisher and subscriber run throughout
// and lose nothing, while hostile clients ask for too much: each is
// refused or evicted and counted exactly in /metrics, and the router's RSS
// stays under its budget.
func TestHostileClients(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the router program as a process")
	}
	start := time.Now()
	bin := buildSome(t, "router", "devcerts")
	tlsDir := makeCerts(t, bin)
	file := func(name string) string { return filepath.Join(tlsDir, name) }
	router := startProgram(t, bin, "router", "-addr", "127.0.0.1:0", "-gateway-addr", "127.0.0.1:0", "-metrics-addr", "127.0.0.1:0",
		"-tls-cert", file("server.pem"), "-tls-key", file("server-key.pem"), "-tls-ca", file("ca.pem"),
		"-memory-budget", "64MiB", "-max-streams", strconv.Itoa(hostileStreams), "-max-shard-groups", strconv.Itoa(hostileShards),
		"-max-connections", strconv.Itoa(hostileMaxConns), "-send-timeout", "2s", "-write-timeout", "2s")
	clientTLS := clientTLSFromDir(t, tlsDir)
	rss := watchRSS(t, router.cmd.Process.Pid)
	cc := hostileConn(t, router.addr, clientTLS)
	egress := envelope.NewEgressClient(cc)
	logs := func(id string) []*envelope.Selector {
		return []*envelope.Selector{{SourceId: id, Message: &envelope.Selector_Log{Log: &envelope.LogSelector{}}}}
	}

	// The well-behaved pair: a subscriber of shard "good", then a publisher
	// of hostileGoodCount envelopes, spread over the whole test.
	good, err := nozzle.NewReader(router.addr, &envelope.EgressBatchRequest{ShardId: "good", Selectors: logs("good")}, nozzle.WithTLS(clientTLS))
	require.NoError(t, err)
	defer good.Close()
	require.Eventually(t, func() bool {
		return router.metric(t, "subscriptions_by_shard", "component", "router", "shard_id", "good") == 1
	}, 20*time.Second, 20*time.Millisecond, "the good subscriber never subscribed")
	var received atomic.Int64
	readCtx, stopReading := context.WithCancel(context.Background())
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		for {
			if _, err := good.Next(readCtx); err != nil {
				return
			}
			received.Add(1)
		}
	}()
	defer func() { stopReading(); <-readDone }()

	pub, err := ingress.NewClient(router.addr, ingress.WithTLS(clientTLS))
	require.NoError(t, err)
	goodEnv, err := proto.Marshal(envelope.NewLog("good", []byte("a well-behaved line of log")))
	require.NoError(t, err)
	publishing := make(chan struct{})
	stopPublishing := make(chan struct{})
	go func() {
		defer close(publishing)
		// 200 a second, so that it runs throughout; the rest at once when
		// the hostile clients are done.
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for i := 0; i < hostileGoodCount; i++ {
			select {
			case <-stopPublishing:
				for ; i < hostileGoodCount; i++ {
					pub.EmitBytes(goodEnv)
				}
				return
			case <-tick.C:
				pub.EmitBytes(goodEnv)
			}
		}
	}()

	// A flood of 4 KiB envelopes from another source, for the streams that
	// do not read to choke on.
	flood, err := ingress.NewClient(router.addr, ingress.WithTLS(clientTLS))
	require.NoError(t, err)
	floodEnv, err := proto.Marshal(envelope.NewLog("flood", make([]byte, 4<<10)))
	require.NoError(t, err)
	floodCtx, stopFlood := context.WithCancel(context.Background())
	flooding := make(chan struct{})
	go func() {
		defer close(flooding)
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-floodCtx.Done():
				return
			case <-tick.C:
				flood.EmitBytes(floodEnv)
			}
		}
	}()
	defer func() { stopFlood(); <-flooding; _ = flood.Close() }()

	// 1. A gRPC Egress stream that never reads: its subscription overflows,
	//    counted under its shard ID; the router serves everyone else.
	stallCtx, stopStall := context.WithCancel(context.Background())
	defer stopStall()
	_, err = egress.BatchedReceiver(stallCtx, &envelope.EgressBatchRequest{ShardId: "stall-grpc", Selectors: logs("flood")})
	require.NoError(t, err)

	// 2. A gateway stream that never reads, with a small receive buffer:
	//    the gateway's write times out and it evicts the client.
	stallGW := hostileStalledGateway(t, router.gatewayURL, clientTLS)
	defer stallGW.Close()
	require.Eventually(t, func() bool {
		// stall-grpc may already have been evicted (-send-timeout 2s).
		subs := router.metric(t, "subscriptions", "component", "router")
		evicted := router.metric(t, "evicted_streams", "component", "egress_server")
		return subs+evicted == 3 && router.metric(t, "streams", "component", "gateway") == 1
	}, 20*time.Second, 20*time.Millisecond, "good, stall-grpc and stall-gw subscribed")

	rss.mark(t, "start, good pair, flood, stalled streams")

	// 3. Huge selector sets and long shard IDs: InvalidArgument, counted.
	many := make([]*envelope.Selector, 20_000)
	for i := range many {
		many[i] = logs("app-" + strconv.Itoa(i))[0]
	}
	for range 2 {
		hostileRefused(t, egress, &envelope.EgressBatchRequest{ShardId: "huge", Selectors: many}, codes.InvalidArgument)
		hostileRefused(t, egress, &envelope.EgressBatchRequest{ShardId: strings.Repeat("x", 100<<10), Selectors: logs("good")}, codes.InvalidArgument)
	}

	rss.mark(t, "huge selector sets, long shard IDs")

	// 4. Endless distinct shard IDs: each opens a group that waits out its
	//    grace period after the stream ends; beyond -max-shard-groups,
	//    ResourceExhausted.
	accepted, refused := 0, 0
	for i := range 50 {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		st, err := egress.BatchedReceiver(ctx, &envelope.EgressBatchRequest{ShardId: fmt.Sprintf("hostile-%d", i), Selectors: logs("flood")})
		require.NoError(t, err)
		_, err = st.Recv()
		cancel()
		switch status.Code(err) {
		case codes.OK:
			accepted++
		case codes.ResourceExhausted:
			refused++
		default:
			t.Fatalf("shard hostile-%d: %v", i, err)
		}
	}
	assert.Equal(t, hostileShards-3, accepted, "groups beside good, stall-grpc and stall-gw")
	assert.Equal(t, 50-accepted, refused)

	rss.mark(t, "distinct shard IDs")

	// 5. Oversized envelopes: a message over the budget's 2 MiB is refused
	//    with ResourceExhausted; an envelope over 128 KiB but in a small
	//    message passes ingress and the router drops it as too_large.
	ingressClient := envelope.NewIngressClient(cc)
	for range 3 {
		st, err := ingressClient.BatchSender(context.Background())
		require.NoError(t, err)
		huge := &envelope.EnvelopeBatch{Batch: []*envelope.Envelope{envelope.NewLog("huge", make([]byte, 5<<20))}}
		_ = st.Send(huge) // the answer comes with CloseAndRecv
		_, err = st.CloseAndRecv()
		assert.Equal(t, codes.ResourceExhausted, status.Code(err), "a 5 MiB message: %v", err)
		_, err = ingressClient.Send(context.Background(), &envelope.EnvelopeBatch{Batch: []*envelope.Envelope{envelope.NewLog("big", make([]byte, 512<<10))}})
		require.NoError(t, err)
	}
	require.Eventually(t, func() bool {
		return router.metric(t, "dropped", "component", "router", "direction", "ingress", "cause", "too_large") == 3
	}, 20*time.Second, 20*time.Millisecond)
	assert.Equal(t, float64(3), router.metric(t, "rejected", "component", "ingress_server", "cause", "too_large"))
	// The gRPC stream that reads nothing was evicted: one eviction, its
	// lost batch counted under its shard ID, and the rest of its
	// subscription counted by the router when it left its group.
	require.Eventually(t, func() bool {
		return router.metric(t, "evicted_streams", "component", "egress_server") == 1
	}, 30*time.Second, 50*time.Millisecond, "the Egress server never evicted the stream that reads nothing")
	grpcLost := router.metric(t, "dropped", "component", "egress_server", "shard_id", "stall-grpc", "cause", "write_timeout")
	assert.True(t, grpcLost >= 1 && grpcLost <= 250, "one batch (at most the router's -egress-batch, 250) lost with the evicted stream: %v", grpcLost)
	require.NoError(t, cc.Close())

	rss.mark(t, "oversized envelopes, gRPC eviction")

	// 6. Thousands of idle TCP connections: once the connections open
	//    reach -max-connections, the rest are closed at once and counted.
	require.Eventually(t, func() bool {
		return router.metric(t, "connections", "component", "grpc_listener") == 3
	}, 20*time.Second, 20*time.Millisecond, "open: the publisher's, the flood's and the good subscriber's")
	// (stall-grpc was evicted and shared the hostile clients' connection,
	// closed above.)
	const idle = 2000
	conns := make([]net.Conn, 0, idle)
	for range idle {
		c, err := net.Dial("tcp", router.addr)
		require.NoError(t, err)
		conns = append(conns, c)
	}
	wantRefused := float64(idle - (hostileMaxConns - 3))
	require.Eventually(t, func() bool {
		return router.metric(t, "refused_connections", "component", "grpc_listener") == wantRefused &&
			router.metric(t, "connections", "component", "grpc_listener") == hostileMaxConns
	}, 20*time.Second, 20*time.Millisecond, "idle connections beyond the limit refused")
	for _, c := range conns {
		_ = c.Close()
	}

	rss.mark(t, "idle connections")

	// The gateway evicted the client that reads nothing.
	require.Eventually(t, func() bool {
		return router.metric(t, "streams", "component", "gateway") == 0
	}, 30*time.Second, 50*time.Millisecond, "the gateway never evicted the stalled client")
	lost := router.metric(t, "dropped", "component", "gateway", "cause", "write_timeout")
	assert.True(t, lost >= 1 && lost <= 100, "one frame of at most a batch (100) lost with the evicted client: %v", lost)

	rss.mark(t, "gateway eviction")

	// The good pair lost nothing.
	close(stopPublishing)
	<-publishing
	require.NoError(t, pub.Shutdown(context.Background()))
	assert.Equal(t, uint64(hostileGoodCount), pub.Stats().Confirmed)
	require.Eventually(t, func() bool { return received.Load() == hostileGoodCount }, 20*time.Second, 20*time.Millisecond,
		"the good subscriber got %d of %d", received.Load(), hostileGoodCount)
	assert.Zero(t, router.metric(t, "dropped", "component", "router", "shard_id", "good"))

	// Every refusal counted under its cause.
	for cause, want := range map[string]float64{"too_many_selectors": 2, "shard_id_too_long": 2, "too_many_shards": float64(refused)} {
		assert.Equal(t, want, router.metric(t, "refused_requests", "component", "router", "cause", cause), cause)
	}

	peak := rss.stop()
	t.Logf("router peak RSS %.1f MiB of a %d MiB budget; %d groups accepted, %d refused; %v", float64(peak)/(1<<20), hostileBudget>>20, accepted, refused, time.Since(start).Round(time.Millisecond))
	assert.Less(t, peak, int64(hostileBudget), "router RSS over its memory budget")
	stopFlood()
	<-flooding
	router.stop(t)
}

// clientTLSFromDir is the client side of the devcerts files in dir:
// mutual TLS with the client pair, trusting the CA.
func clientTLSFromDir(t *testing.T, dir string) *tls.Config {
	t.Helper()
	pair, err := tls.LoadX509KeyPair(filepath.Join(dir, "client.pem"), filepath.Join(dir, "client-key.pem"))
	require.NoError(t, err)
	caPEM, err := os.ReadFile(filepath.Join(dir, "ca.pem"))
	require.NoError(t, err)
	roots := x509.NewCertPool()
	require.True(t, roots.AppendCertsFromPEM(caPEM))
	return &tls.Config{RootCAs: roots, Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}
}

func hostileConn(t *testing.T, addr string, cfg *tls.Config) *grpc.ClientConn {
	t.Helper()
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(credentials.NewTLS(cfg)))
	require.NoError(t, err)
	t.Cleanup(func() { _ = cc.Close() })
	return cc
}

// hostileRefused asks for req and expects the stream refused with code.
func hostileRefused(t *testing.T, egress envelope.EgressClient, req *envelope.EgressBatchRequest, code codes.Code) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := egress.BatchedReceiver(ctx, req)
	require.NoError(t, err)
	_, err = st.Recv()
	assert.Equal(t, code, status.Code(err), "%v", err)
}

// hostileStalledGateway opens a gateway stream of the flood on a
// connection with a 4 KiB receive buffer and never reads its body.
func hostileStalledGateway(t *testing.T, gatewayURL string, cfg *tls.Config) net.Conn {
	t.Helper()
	u, err := url.Parse(gatewayURL)
	require.NoError(t, err)
	d := net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
		})
		return errors.Join(err, serr)
	}}
	raw, err := d.Dial("tcp", u.Host)
	require.NoError(t, err)
	c := cfg.Clone()
	c.ServerName = u.Hostname()
	conn := tls.Client(raw, c)
	req, err := http.NewRequest(http.MethodGet, gatewayURL+"/v2/read?shard_id=stall-gw&source_id=flood&log", nil)
	require.NoError(t, err)
	require.NoError(t, req.Write(conn))
	resp, err := http.ReadResponse(bufio.NewReaderSize(conn, 512), req)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	return conn // the body is never read
}

// rssWatch samples a process's resident set size (VmRSS) until stopped.
type rssWatch struct {
	stopc chan struct{}
	done  chan struct{}
	mu    sync.Mutex
	peak  int64
	phase int64 // peak since the last mark
}

// mark logs the peak RSS since the previous mark, under what's name.
func (w *rssWatch) mark(t *testing.T, what string) {
	t.Helper()
	w.mu.Lock()
	p := w.phase
	w.phase = 0
	w.mu.Unlock()
	t.Logf("router RSS peak %5.1f MiB: %s", float64(p)/(1<<20), what)
}

func watchRSS(t *testing.T, pid int) *rssWatch {
	t.Helper()
	w := &rssWatch{stopc: make(chan struct{}), done: make(chan struct{})}
	path := fmt.Sprintf("/proc/%d/status", pid)
	go func() {
		defer close(w.done)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			if b, err := os.ReadFile(path); err == nil {
				for _, line := range strings.Split(string(b), "\n") {
					if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
						kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
						w.mu.Lock()
						w.peak = max(w.peak, kb<<10)
						w.phase = max(w.phase, kb<<10)
						w.mu.Unlock()
					}
				}
			}
			select {
			case <-w.stopc:
				return
			case <-tick.C:
			}
		}
	}()
	t.Cleanup(func() { w.stop() })
	return w
}

// stop ends the sampling and returns the peak RSS in bytes.
func (w *rssWatch) stop() int64 {
	select {
	case <-w.stopc:
	default:
		close(w.stopc)
	}
	<-w.done
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.peak
}
