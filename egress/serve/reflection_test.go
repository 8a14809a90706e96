package serve

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sluicelog/sluice/internal/grpcserve"
)

// With WithReflection the Server's own grpc.Server lists and describes
// loggregator.v2.Egress.
func TestServerReflection(t *testing.T) {
	_, cc := serverTestStart(t, routerTestNew(t), WithReflection())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	names, err := grpcserve.ReflectedServices(ctx, cc)
	require.NoError(t, err)
	assert.Equal(t, []string{"grpc.reflection.v1.ServerReflection", "grpc.reflection.v1alpha.ServerReflection", "loggregator.v2.Egress"}, names)
}
