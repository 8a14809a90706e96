package grpcserve

import (
	"context"
	"fmt"
	"slices"

	"google.golang.org/grpc"
	v1 "google.golang.org/grpc/reflection/grpc_reflection_v1"
)

// ReflectedServices asks the server behind cc, through grpc reflection
// (v1), which services it serves, and checks that each one's file
// descriptor can be fetched (what `grpcurl describe` needs). It returns the
// service names sorted. Tests use it.
func ReflectedServices(ctx context.Context, cc grpc.ClientConnInterface) ([]string, error) {
	st, err := v1.NewServerReflectionClient(cc).ServerReflectionInfo(ctx)
	if err != nil {
		return nil, err
	}
	defer func() { _ = st.CloseSend() }()
	ask := func(req *v1.ServerReflectionRequest) (*v1.ServerReflectionResponse, error) {
		if err := st.Send(req); err != nil {
			return nil, err
		}
		resp, err := st.Recv()
		if err != nil {
			return nil, err
		}
		if e := resp.GetErrorResponse(); e != nil {
			return nil, fmt.Errorf("reflection: %s", e.GetErrorMessage())
		}
		return resp, nil
	}
	resp, err := ask(&v1.ServerReflectionRequest{MessageRequest: &v1.ServerReflectionRequest_ListServices{}})
	if err != nil {
		return nil, err
	}
	var names []string
	for _, s := range resp.GetListServicesResponse().GetService() {
		names = append(names, s.GetName())
		fd, err := ask(&v1.ServerReflectionRequest{MessageRequest: &v1.ServerReflectionRequest_FileContainingSymbol{FileContainingSymbol: s.GetName()}})
		if err != nil {
			return nil, fmt.Errorf("describe %s: %w", s.GetName(), err)
		}
		if len(fd.GetFileDescriptorResponse().GetFileDescriptorProto()) == 0 {
			return nil, fmt.Errorf("describe %s: no file descriptor", s.GetName())
		}
	}
	slices.Sort(names)
	return names, nil
}
