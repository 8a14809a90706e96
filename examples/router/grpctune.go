package main

import (
	"flag"
	"time"

	"google.golang.org/grpc"

	"github.com/sluicelog/sluice/egress/serve"
	"github.com/sluicelog/sluice/ingress"
)

// The router's own transport defaults, measured with examples/routerbench
// (see the README's router cost): a 128 KiB write buffer released to a pool
// between writes, and Egress batches of 250 envelopes. Each cuts the write
// system calls per envelope; a connection holds the write buffer only
// while it writes (grpc-go's default holds 32 KiB per connection always).
const (
	defaultWriteBuffer = 128 << 10
	defaultEgressBatch = 250
)

// tuning holds the flags that tune the shared gRPC server's transport and
// the ingress edge; zero values keep grpc-go's defaults.
type tuning struct {
	writeBuf, readBuf    int
	window, connWindow   int
	sharedWriteBuf, shed bool
	egressBatch          int
}

func (t *tuning) Flags(fs *flag.FlagSet) {
	fs.IntVar(&t.writeBuf, "grpc-write-buffer", defaultWriteBuffer, "bytes gRPC buffers per connection before writing to the socket (0: grpc-go's 32 KiB)")
	fs.IntVar(&t.readBuf, "grpc-read-buffer", 0, "bytes gRPC reads from the socket at once per connection (0: grpc-go's 32 KiB)")
	fs.IntVar(&t.window, "grpc-window", 0, "HTTP/2 initial window per stream in bytes, at least 64 KiB; fixed, turning off grpc-go's window estimation (0: estimated)")
	fs.IntVar(&t.connWindow, "grpc-conn-window", 0, "HTTP/2 initial window per connection in bytes, at least 64 KiB (0: estimated)")
	fs.BoolVar(&t.sharedWriteBuf, "grpc-shared-write-buffer", true, "release each connection's write buffer to a pool between writes: an idle connection holds none (false: each holds its own always)")
	fs.IntVar(&t.egressBatch, "egress-batch", defaultEgressBatch, "most envelopes in one BatchedReceiver message (0: the library's 100, Loggregator's); larger batches mean fewer sends, wake-ups and write calls per envelope; a message is at most 1 MiB whatever the count")
	fs.BoolVar(&t.shed, "shed-when-full", false, "drop whole batches that arrive while the ingress buffer (fair policy) is full, before validating them, counted dropped{cause=\"shed\"}: when offered more than it can route the router spends its CPU routing, not validating what it would drop; trades the fair policy's choice of whom to drop for CPU")
}

// ServerOptions returns the gRPC server options the flags ask for.
func (t *tuning) ServerOptions() []grpc.ServerOption {
	var opts []grpc.ServerOption
	if t.writeBuf > 0 {
		opts = append(opts, grpc.WriteBufferSize(t.writeBuf))
	}
	if t.readBuf > 0 {
		opts = append(opts, grpc.ReadBufferSize(t.readBuf))
	}
	if t.window > 0 {
		opts = append(opts, grpc.InitialWindowSize(int32(min(t.window, 1<<31-1))))
	}
	if t.connWindow > 0 {
		opts = append(opts, grpc.InitialConnWindowSize(int32(min(t.connWindow, 1<<31-1))))
	}
	if t.sharedWriteBuf {
		opts = append(opts, grpc.SharedWriteBuffer(true))
	}
	return opts
}

// EgressOptions returns the Egress server options the flags ask for.
func (t *tuning) EgressOptions() []serve.ServerOption {
	if t.egressBatch > 0 {
		return []serve.ServerOption{serve.WithBatch(t.egressBatch, 100*time.Millisecond)}
	}
	return nil
}

// IngressOptions returns the ingress server options the flags ask for.
func (t *tuning) IngressOptions() []ingress.ServerOption {
	if t.shed {
		return []ingress.ServerOption{ingress.WithShedWhenFull()}
	}
	return nil
}
