package serve

// WithReflection makes the Server's own grpc.Server (Serve, Start) also
// serve grpc server reflection (grpc.reflection.v1 and v1alpha), so that
// grpcurl and other tools list and describe loggregator.v2.Egress without
// the .proto files. Off by default. A grpc.Server shared through Register
// is its owner's to register reflection on.
func WithReflection() ServerOption {
	return serverOptionFunc(func(c *serverConfig) { c.reflection = true })
}
