package discoverytest

import (
	"net"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"

	"github.com/sluicelog/sluice/discovery/etcd"
)

// Etcd is a single-member etcd server embedded in the test process,
// listening on loopback.
type Etcd struct {
	t         testing.TB
	dir       string
	clientURL url.URL // what clients dial: the front
	backURL   url.URL // where the embedded server listens
	peerURL   url.URL

	mu     sync.Mutex
	server *embed.Etcd
	front  *front
}

// StartEtcd starts an embedded etcd on two free loopback ports, with its
// data in a temporary directory, and waits until it serves. It fails the
// test if etcd does not start within 20s. The server is stopped when the
// test ends.
func StartEtcd(t testing.TB) *Etcd {
	t.Helper()
	e := &Etcd{
		t:         t,
		dir:       filepath.Join(t.TempDir(), "etcd"),
		clientURL: url.URL{Scheme: "http", Host: freePort(t)},
		backURL:   url.URL{Scheme: "http", Host: freePort(t)},
		peerURL:   url.URL{Scheme: "http", Host: freePort(t)},
	}
	t.Cleanup(e.Stop)
	e.Start()
	return e
}

func freePort(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("discoverytest: finding a free port: %v", err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	return addr
}

// Endpoints returns the client URLs to give to clientv3.
func (e *Etcd) Endpoints() []string { return []string{e.clientURL.String()} }

// Client returns a new client for this server built from
// etcd.ClientConfig (quiet, quick to reconnect). It is closed when the
// test ends.
func (e *Etcd) Client() *clientv3.Client {
	e.t.Helper()
	c, err := clientv3.New(etcd.ClientConfig(e.Endpoints()...))
	if err != nil {
		e.t.Fatalf("discoverytest: etcd client: %v", err)
	}
	e.t.Cleanup(func() { _ = c.Close() })
	return c
}

// Start starts the server on its ports with the data it has (none at
// first, or after Wipe). Starting a running server does nothing.
func (e *Etcd) Start() {
	e.t.Helper()
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.server != nil {
		return
	}
	cfg := embed.NewConfig()
	cfg.Name = "discoverytest"
	cfg.Dir = e.dir
	cfg.ListenClientUrls = []url.URL{e.backURL}
	cfg.AdvertiseClientUrls = []url.URL{e.clientURL}
	cfg.ListenPeerUrls = []url.URL{e.peerURL}
	cfg.AdvertisePeerUrls = []url.URL{e.peerURL}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	cfg.ZapLoggerBuilder = embed.NewZapLoggerBuilder(zap.NewNop())
	cfg.LogLevel = "error"
	cfg.UnsafeNoFsync = true // test data need not survive a power cut
	// Short ticks make a fresh single member elect itself within a few
	// hundred milliseconds; etcd's lease minimum (1.5 election timeouts)
	// stays below a second, so leases of 1s and more work.
	cfg.TickMs = 20
	cfg.ElectionMs = 200

	srv, err := embed.StartEtcd(cfg)
	if err != nil {
		e.t.Fatalf("discoverytest: starting etcd: %v", err)
	}
	select {
	case <-srv.Server.ReadyNotify():
	case err := <-srv.Err():
		srv.Close()
		e.t.Fatalf("discoverytest: etcd failed: %v", err)
	case <-time.After(20 * time.Second):
		srv.Close()
		e.t.Fatalf("discoverytest: etcd not ready after 20s")
	}
	f, err := listenFront(e.clientURL.Host, e.backURL.Host)
	if err != nil {
		srv.Close()
		e.t.Fatalf("discoverytest: etcd front: %v", err)
	}
	e.server, e.front = srv, f
}

// Stop stops the server, keeping its data. Clients see it go down at once,
// as in a crash or a network cut: every client connection is cut before the
// server closes. Stopping a stopped server does nothing.
func (e *Etcd) Stop() {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.server == nil {
		return
	}
	e.front.close()
	e.server.Close()
	e.server, e.front = nil, nil
}

// Restart stops the server and starts it again with the same data on the
// same ports.
func (e *Etcd) Restart() {
	e.t.Helper()
	e.Stop()
	e.Start()
}

// Wipe stops the server, deletes its data and starts a fresh, empty server
// on the same ports: what an operator does to recover a broken etcd.
func (e *Etcd) Wipe() {
	e.t.Helper()
	e.Stop()
	if err := os.RemoveAll(e.dir); err != nil {
		e.t.Fatalf("discoverytest: wiping etcd data: %v", err)
	}
	e.Start()
}
