package ingress_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/sluicelog/sluice/diode"
	"github.com/sluicelog/sluice/ingress"
	"github.com/sluicelog/sluice/internal/grpcserve"
)

// With WithReflection the Server's own grpc.Server lists and describes
// loggregator.v2.Ingress; without it reflection is not served.
func TestServerReflection(t *testing.T) {
	for _, on := range []bool{true, false} {
		var opts []ingress.ServerOption
		if on {
			opts = append(opts, ingress.WithReflection())
		}
		s, err := ingress.NewServer(diode.Discard[[]byte](), opts...)
		require.NoError(t, err)
		addr, err := s.Start("127.0.0.1:0")
		require.NoError(t, err)
		cc, err := grpc.NewClient(addr.String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
		require.NoError(t, err)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		names, err := grpcserve.ReflectedServices(ctx, cc)
		cancel()
		if on {
			require.NoError(t, err)
			assert.Equal(t, []string{"grpc.reflection.v1.ServerReflection", "grpc.reflection.v1alpha.ServerReflection", "loggregator.v2.Ingress"}, names)
		} else {
			assert.Error(t, err)
		}
		require.NoError(t, cc.Close())
		require.NoError(t, s.Close())
	}
}
