package ingress

// DefaultMaxConnections is how many connections a Server holds open at
// once on the listeners it serves itself (WithMaxConnections).
const DefaultMaxConnections = 1000

// WithMaxConnections sets how many connections a Server holds open at once
// on the listeners it serves itself (Serve, Start; default
// DefaultMaxConnections). Connections beyond it are closed as they come
// and counted (ServerStats.RefusedConnections), so idle connections cannot
// pile up in the Server; a sender whose connection is closed backs off
// and retries. Zero keeps the default; unlike the sizes, a negative n is
// allowed and removes the limit. A grpc.Server shared through Register is
// its owner's to bound (internal/connlimit wraps a listener the same way).
func WithMaxConnections(n int) ServerOption {
	return serverOptionFunc(func(c *serverConfig) {
		switch {
		case n < 0:
			c.maxConns = 0 // connlimit: no limit
		case n > 0:
			c.maxConns = n
		}
	})
}
