package wire

import (
	"context"
	"io"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/sluicelog/sluice/envelope"
)

// IngressHandler serves loggregator.v2.Ingress with raw messages. Sender's
// stream receives *Envelope; BatchSender's receives *Batch.
type IngressHandler interface {
	Sender(stream grpc.ServerStream) error
	BatchSender(stream grpc.ServerStream) error
	Send(ctx context.Context, b *Batch) error
}

// EgressHandler serves loggregator.v2.Egress with raw messages. Receiver's
// stream sends *Envelope; BatchedReceiver's sends *Batch.
type EgressHandler interface {
	Receiver(req *envelope.EgressRequest, stream grpc.ServerStream) error
	BatchedReceiver(req *envelope.EgressBatchRequest, stream grpc.ServerStream) error
}

// Method paths, Loggregator's.
const (
	MethodSender          = envelope.Ingress_Sender_FullMethodName
	MethodBatchSender     = envelope.Ingress_BatchSender_FullMethodName
	MethodSend            = envelope.Ingress_Send_FullMethodName
	MethodReceiver        = envelope.Egress_Receiver_FullMethodName
	MethodBatchedReceiver = envelope.Egress_BatchedReceiver_FullMethodName
)

var ingressDesc = grpc.ServiceDesc{
	ServiceName: "loggregator.v2.Ingress",
	HandlerType: (*IngressHandler)(nil),
	Methods: []grpc.MethodDesc{{
		MethodName: "Send",
		Handler: func(srv any, ctx context.Context, dec func(any) error, interceptor grpc.UnaryServerInterceptor) (any, error) {
			in := new(Batch)
			if err := dec(in); err != nil {
				return nil, err
			}
			call := func(ctx context.Context, req any) (any, error) {
				if err := srv.(IngressHandler).Send(ctx, req.(*Batch)); err != nil {
					return nil, err
				}
				return &envelope.SendResponse{}, nil
			}
			if interceptor == nil {
				return call(ctx, in)
			}
			return interceptor(ctx, in, &grpc.UnaryServerInfo{Server: srv, FullMethod: MethodSend}, call)
		},
	}},
	Streams: []grpc.StreamDesc{
		{
			StreamName:    "Sender",
			ClientStreams: true,
			Handler:       func(srv any, s grpc.ServerStream) error { return srv.(IngressHandler).Sender(s) },
		},
		{
			StreamName:    "BatchSender",
			ClientStreams: true,
			Handler:       func(srv any, s grpc.ServerStream) error { return srv.(IngressHandler).BatchSender(s) },
		},
	},
	Metadata: "ingress.proto",
}

var egressDesc = grpc.ServiceDesc{
	ServiceName: "loggregator.v2.Egress",
	HandlerType: (*EgressHandler)(nil),
	Streams: []grpc.StreamDesc{
		{
			StreamName:    "Receiver",
			ServerStreams: true,
			Handler: func(srv any, s grpc.ServerStream) error {
				req := new(envelope.EgressRequest)
				if err := s.RecvMsg(req); err != nil {
					return err
				}
				return srv.(EgressHandler).Receiver(req, s)
			},
		},
		{
			StreamName:    "BatchedReceiver",
			ServerStreams: true,
			Handler: func(srv any, s grpc.ServerStream) error {
				req := new(envelope.EgressBatchRequest)
				if err := s.RecvMsg(req); err != nil {
					return err
				}
				return srv.(EgressHandler).BatchedReceiver(req, s)
			},
		},
	},
	Metadata: "egress.proto",
}

// RegisterIngress registers h as loggregator.v2.Ingress on s. The server must
// use Codec (ServerOption).
func RegisterIngress(s grpc.ServiceRegistrar, h IngressHandler) { s.RegisterService(&ingressDesc, h) }

// RegisterEgress registers h as loggregator.v2.Egress on s. The server must
// use Codec (ServerOption).
func RegisterEgress(s grpc.ServiceRegistrar, h EgressHandler) { s.RegisterService(&egressDesc, h) }

var (
	senderStream          = grpc.StreamDesc{StreamName: "Sender", ClientStreams: true}
	batchSenderStream     = grpc.StreamDesc{StreamName: "BatchSender", ClientStreams: true}
	receiverStream        = grpc.StreamDesc{StreamName: "Receiver", ServerStreams: true}
	batchedReceiverStream = grpc.StreamDesc{StreamName: "BatchedReceiver", ServerStreams: true}
)

// OpenBatchSender opens a BatchSender stream; send *Batch on it and finish
// with CloseSend and RecvMsg(&envelope.BatchSenderResponse{}).
func OpenBatchSender(ctx context.Context, cc grpc.ClientConnInterface, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	return cc.NewStream(ctx, &batchSenderStream, MethodBatchSender, append(opts, CallOption())...)
}

// Confirmed reports whether err, the answer to a Sender or BatchSender
// stream after a completed CloseSend, confirms that the server read the
// whole stream: OK, or Loggregator's status Unknown with message "EOF" (its
// handlers return io.EOF after reading everything).
func Confirmed(err error) bool {
	if err == nil {
		return true
	}
	st, ok := status.FromError(err)
	return ok && st.Code() == codes.Unknown && st.Message() == io.EOF.Error()
}

// OpenSender opens a Sender stream; send *Envelope on it.
func OpenSender(ctx context.Context, cc grpc.ClientConnInterface, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	return cc.NewStream(ctx, &senderStream, MethodSender, append(opts, CallOption())...)
}

// Send makes one acknowledged Send call: when it returns nil the receiver
// has the batch.
func Send(ctx context.Context, cc grpc.ClientConnInterface, b *Batch, opts ...grpc.CallOption) error {
	return cc.Invoke(ctx, MethodSend, b, &envelope.SendResponse{}, append(opts, CallOption())...)
}

// OpenBatchedReceiver subscribes with req; receive *Batch from the stream
// (Raw holds the EnvelopeBatch; call Split).
func OpenBatchedReceiver(ctx context.Context, cc grpc.ClientConnInterface, req *envelope.EgressBatchRequest, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	s, err := cc.NewStream(ctx, &batchedReceiverStream, MethodBatchedReceiver, append(opts, CallOption())...)
	if err != nil {
		return nil, err
	}
	if err := s.SendMsg(req); err != nil {
		return nil, err
	}
	if err := s.CloseSend(); err != nil {
		return nil, err
	}
	return s, nil
}

// OpenReceiver subscribes with req over the unbatched Receiver method;
// receive *Envelope from the stream.
func OpenReceiver(ctx context.Context, cc grpc.ClientConnInterface, req *envelope.EgressRequest, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	s, err := cc.NewStream(ctx, &receiverStream, MethodReceiver, append(opts, CallOption())...)
	if err != nil {
		return nil, err
	}
	if err := s.SendMsg(req); err != nil {
		return nil, err
	}
	if err := s.CloseSend(); err != nil {
		return nil, err
	}
	return s, nil
}
