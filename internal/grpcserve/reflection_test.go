package grpcserve

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// Reflection over a grpc.Server lists its services and describes them from
// the global registry; Reflecting leaves register alone when off.
func TestReflection(t *testing.T) {
	calls := 0
	register := func(s grpc.ServiceRegistrar) { calls++; healthpb.RegisterHealthServer(s, health.NewServer()) }
	off := Reflecting(register, false)
	off(grpc.NewServer())
	assert.Equal(t, 1, calls)

	gs := grpc.NewServer()
	Reflecting(register, true)(gs)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	done := make(chan struct{})
	go func() { defer close(done); _ = gs.Serve(lis) }()
	defer func() { gs.Stop(); <-done }()
	cc, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	defer cc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	names, err := ReflectedServices(ctx, cc)
	require.NoError(t, err)
	assert.Equal(t, []string{"grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection", "grpc.reflection.v1alpha.ServerReflection"}, names)
	assert.False(t, RegisterReflection(nil), "not a grpc.Server")
}
