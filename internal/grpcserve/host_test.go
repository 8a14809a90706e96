package grpcserve

import (
	"errors"
	"log/slog"
	"net"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
	"google.golang.org/grpc"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var errClosed = errors.New("test: closed")

func TestHostLifecycle(t *testing.T) {
	made := 0
	h := New("test", errClosed, slog.New(slog.DiscardHandler),
		func() []grpc.ServerOption { made++; return nil },
		func(grpc.ServiceRegistrar) {})
	assert.Nil(t, h.Addr())
	assert.Nil(t, h.Close(), "no grpc.Server before Serve")

	h = New("test", errClosed, slog.New(slog.DiscardHandler),
		func() []grpc.ServerOption { made++; return nil },
		func(grpc.ServiceRegistrar) {})
	a1, err := h.Start("127.0.0.1:0")
	require.NoError(t, err)
	a2, err := h.Start("127.0.0.1:0")
	require.NoError(t, err)
	require.Eventually(t, func() bool { return h.Addr() != nil }, 5e9, 1e6)
	assert.Contains(t, []string{a1.String(), a2.String()}, h.Addr().String())
	c, err := net.Dial("tcp", a2.String())
	require.NoError(t, err)
	c.Close()

	gs := h.Close()
	require.NotNil(t, gs)
	gs.Stop()
	h.Wait()
	assert.Equal(t, 1, made, "one grpc.Server for all listeners")
	assert.True(t, h.Closed())

	_, err = h.Start("127.0.0.1:0")
	assert.ErrorIs(t, err, errClosed)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	assert.ErrorIs(t, h.Serve(lis), errClosed)
	_, err = net.Dial("tcp", lis.Addr().String())
	assert.Error(t, err, "Serve after Close closes the listener")
}
