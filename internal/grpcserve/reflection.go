package grpcserve

import (
	"errors"

	"google.golang.org/grpc"
	"google.golang.org/grpc/reflection"
	v1 "google.golang.org/grpc/reflection/grpc_reflection_v1"
	v1alpha "google.golang.org/grpc/reflection/grpc_reflection_v1alpha"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
)

// RegisterReflection registers grpc server reflection (v1 and v1alpha, so
// that grpcurl and older clients list and describe the services) on s, if
// s is a grpc.Server (a ServiceRegistrar that lists its services); it
// returns false otherwise. Descriptors are looked up in files in order, then
// in protobuf's global registry: sluice registers its own descriptors in
// local registries (envelope.Files, plumbing.Files), not the global one.
func RegisterReflection(s grpc.ServiceRegistrar, files ...protodesc.Resolver) bool {
	gs, ok := s.(reflection.GRPCServer)
	if !ok {
		return false
	}
	opts := reflection.ServerOptions{Services: gs, DescriptorResolver: resolvers(append(files, protoregistry.GlobalFiles))}
	v1.RegisterServerReflectionServer(gs, reflection.NewServerV1(opts))
	v1alpha.RegisterServerReflectionServer(gs, reflection.NewServer(opts))
	return true
}

// resolvers looks a descriptor up in each resolver in turn.
type resolvers []protodesc.Resolver

func (rs resolvers) FindFileByPath(path string) (protoreflect.FileDescriptor, error) {
	for _, r := range rs {
		if fd, err := r.FindFileByPath(path); err == nil {
			return fd, nil
		}
	}
	return nil, protoregistry.NotFound
}

func (rs resolvers) FindDescriptorByName(name protoreflect.FullName) (protoreflect.Descriptor, error) {
	for _, r := range rs {
		d, err := r.FindDescriptorByName(name)
		if err == nil {
			return d, nil
		}
		if !errors.Is(err, protoregistry.NotFound) {
			return nil, err
		}
	}
	return nil, protoregistry.NotFound
}

// Reflecting returns register, followed, when on is set, by registering
// reflection over files: the register function of a component's own
// grpc.Server that takes a WithReflection option.
func Reflecting(register func(grpc.ServiceRegistrar), on bool, files ...protodesc.Resolver) func(grpc.ServiceRegistrar) {
	if !on {
		return register
	}
	return func(s grpc.ServiceRegistrar) {
		register(s)
		RegisterReflection(s, files...)
	}
}
