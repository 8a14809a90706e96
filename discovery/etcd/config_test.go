package etcd_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/sluicelog/sluice/discovery"
	"github.com/sluicelog/sluice/discovery/etcd"
)

// unreachable returns a client for an address where no etcd listens:
// constructors and stopping must not need etcd.
func unreachable(t *testing.T) *clientv3.Client {
	t.Helper()
	c, err := clientv3.New(etcd.ClientConfig("http://127.0.0.1:1"))
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func TestInvalidConfig(t *testing.T) {
	c := unreachable(t)
	ep := discovery.Endpoint{ID: "r1", Addr: "127.0.0.1:8082", Zone: "z1"}
	tests := []struct {
		name string
		new  func() error
	}{
		{"registrar without client", func() error { _, err := etcd.NewRegistrar(nil, ep); return err }},
		{"registrar without addr", func() error { _, err := etcd.NewRegistrar(c, discovery.Endpoint{ID: "r1"}); return err }},
		{"slash in ID", func() error {
			_, err := etcd.NewRegistrar(c, discovery.Endpoint{ID: "a/b", Addr: "127.0.0.1:1"})
			return err
		}},
		{"slash in zone", func() error {
			_, err := etcd.NewRegistrar(c, discovery.Endpoint{Addr: "127.0.0.1:1", Zone: "z/1"})
			return err
		}},
		{"watcher without client", func() error { _, err := etcd.NewWatcher(nil); return err }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.ErrorIs(t, tt.new(), etcd.ErrInvalidConfig)
		})
	}
}

// Nil options are skipped; both components stop promptly with etcd
// unreachable, with Shutdown and then Close again.
func TestNilOptionsAndStopWithoutEtcd(t *testing.T) {
	c := unreachable(t)
	r, err := etcd.NewRegistrar(c, discovery.Endpoint{ID: "r1", Addr: "127.0.0.1:8082"}, nil, etcd.WithTTL(testTTL), nil)
	require.NoError(t, err)
	w, err := etcd.NewWatcher(c, nil, etcd.WithInterval(testInterval))
	require.NoError(t, err)
	assert.ErrorIs(t, w.State().Err, discovery.ErrPending)
	assert.Equal(t, "/sluice/meta/_/router/r1", r.Key())

	ctx, cancel := context.WithTimeout(context.Background(), hang)
	defer cancel()
	start := time.Now()
	require.NoError(t, r.Shutdown(ctx))
	require.NoError(t, w.Shutdown(ctx))
	t.Logf("stopped after %v", time.Since(start))
	assert.False(t, r.Registered())
	assert.ErrorIs(t, w.State().Err, discovery.ErrClosed)
	require.NoError(t, r.Close())
	require.NoError(t, w.Close())
}
