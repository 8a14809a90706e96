// Package grpcserve is the listener half of sluice's gRPC servers
// (ingress.Server, serve.Server): a grpc.Server made on first use with the
// component's options and services, the listeners it serves, Serve and
// Start, and refusing to serve once the component is closing. How a
// component drains its streams stays with the component.
package grpcserve
