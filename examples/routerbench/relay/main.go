package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"runtime/pprof"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"

	"github.com/sluicelog/sluice/envelope"
	"github.com/sluicelog/sluice/examples/internal/cli"
	"github.com/sluicelog/sluice/internal/tlscork"
	"github.com/sluicelog/sluice/internal/wire"
)

func main() { os.Exit(run(os.Args[1:])) }

func run(args []string) int {
	fs := flag.NewFlagSet("relay", flag.ContinueOnError)
	cli.Usage(fs, "relay: the floor under examples/routerbench. It serves loggregator.v2 BatchSender and\n"+
		"BatchedReceiver over gRPC with mutual TLS, on the router's transport settings, and does\n"+
		"nothing else: every message received is sent as it is to one subscriber of each shard ID.\n"+
		"It prints the address it listens on as its first line and stops on SIGINT or SIGTERM.",
		"relay -addr 127.0.0.1:0 -metrics-addr 127.0.0.1:0 -tls-cert c.pem -tls-key k.pem -tls-ca ca.pem")
	var (
		addr        = fs.String("addr", "127.0.0.1:8082", "gRPC listen address")
		metricsAddr = fs.String("metrics-addr", "127.0.0.1:0", "HTTP listen address of /metrics")
		subBuffer   = fs.Int("subscription-buffer", 50000, "envelopes held per shard ID (in whole messages of 100); a message that finds no room is dropped and counted. Deep by default: the relay measures cost, and cost per envelope delivered means little when most are dropped")
		writeBuf    = fs.Int("grpc-write-buffer", 128<<10, "bytes gRPC buffers per connection before writing to the socket (the router's default)")
		readBuf     = fs.Int("grpc-read-buffer", 0, "bytes gRPC reads from the socket at once per connection (0: grpc-go's 32 KiB)")
		window      = fs.Int("grpc-window", 0, "HTTP/2 initial window per stream in bytes, fixed (0: grpc-go's, estimated)")
		connWindow  = fs.Int("grpc-conn-window", 0, "HTTP/2 initial window per connection in bytes (0: estimated)")
		procs       = fs.Int("procs", 0, "GOMAXPROCS (0: Go's default), as the router's -procs")
		cpuProfile  = fs.String("cpuprofile", "", "write a CPU profile (pprof) of the whole run to this file")
		tlsFiles    cli.TLSFiles
	)
	tlsFiles.ServerFlags(fs, "", "the gRPC server")
	// Flags routerbench gives every router; the relay has no use for them.
	fs.String("log-level", "", "ignored (the router's flag)")
	fs.Int("buffer", 0, "ignored: the relay has no ingress buffer")
	fs.Duration("shutdown-timeout", 0, "ignored: the relay stops at once")
	if code, ok := cli.Parse(fs, args); !ok {
		return code
	}
	serverTLS, err := tlsFiles.ServerConfig()
	if err != nil {
		return cli.Fatal("relay", err)
	}
	if serverTLS == nil {
		return cli.Fatal("relay", errors.New("-tls-cert and -tls-key are required: the relay measures the TLS router's floor"))
	}
	if *procs < 0 {
		return cli.Fatal("relay", errors.New("-procs must not be negative"))
	}
	if *procs > 0 {
		runtime.GOMAXPROCS(*procs)
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return cli.Fatal("relay", err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			return cli.Fatal("relay", err)
		}
		defer func() { pprof.StopCPUProfile(); _ = f.Close() }()
	}
	r := &relay{depth: max(1, *subBuffer/100), queues: map[string]*shard{}}
	opts := []grpc.ServerOption{
		wire.ServerOption(), wire.PoolServerOption(),
		grpc.Creds(tlscork.Credentials(credentials.NewTLS(serverTLS))),
		grpc.WriteBufferSize(*writeBuf), grpc.SharedWriteBuffer(true),
	}
	if *readBuf > 0 {
		opts = append(opts, grpc.ReadBufferSize(*readBuf))
	}
	if *window > 0 {
		opts = append(opts, grpc.InitialWindowSize(int32(min(*window, 1<<31-1))))
	}
	if *connWindow > 0 {
		opts = append(opts, grpc.InitialConnWindowSize(int32(min(*connWindow, 1<<31-1))))
	}
	gs := grpc.NewServer(opts...)
	wire.RegisterIngress(gs, r)
	wire.RegisterEgress(gs, r)
	lis, err := net.Listen("tcp", *addr)
	if err != nil {
		return cli.Fatal("relay", err)
	}
	go func() { _ = gs.Serve(lis) }()
	defer gs.Stop()
	mlis, err := net.Listen("tcp", *metricsAddr)
	if err != nil {
		return cli.Fatal("relay", err)
	}
	hs := &http.Server{Handler: http.HandlerFunc(r.metrics), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = hs.Serve(mlis) }()
	defer hs.Close()
	cli.Listening(os.Stdout, lis.Addr().String(), "metrics", "http://"+mlis.Addr().String()+"/metrics")
	ctx, stop := cli.SignalContext(0)
	defer stop()
	<-ctx.Done()
	return 0
}

// relay hands every received message to each shard ID's queue, or drops it
// there when the queue is full; the subscribers of a shard ID take turns
// reading its queue, so each gets a share. Its counters are named as the
// router's are, so routerbench reads them the same way.
type relay struct {
	depth int // messages a shard ID's queue holds

	mu     sync.Mutex
	queues map[string]*shard

	ingress atomic.Uint64 // envelopes received
	dropped atomic.Uint64 // envelopes dropped: at a full queue, taken but not sent, or left in a queue no one reads
}

// shard is one shard ID's queue and how many subscribers read it.
type shard struct {
	q       chan message
	readers int
}

// message is a received EnvelopeBatch and its envelope count.
type message struct {
	raw []byte
	n   int
}

func (r *relay) BatchSender(stream grpc.ServerStream) error {
	var split [][]byte
	for {
		var b wire.Batch
		if err := stream.RecvMsg(&b); err != nil {
			if errors.Is(err, io.EOF) {
				return io.EOF // Loggregator's answer: the whole stream was read
			}
			return err
		}
		var err error
		if split, err = envelope.SplitBatch(b.Raw, split[:0]); err != nil {
			return status.Error(codes.InvalidArgument, err.Error())
		}
		r.ingress.Add(uint64(len(split)))
		r.mu.Lock()
		for _, sh := range r.queues {
			select {
			case sh.q <- message{b.Raw, len(split)}:
			default:
				r.dropped.Add(uint64(len(split)))
			}
		}
		r.mu.Unlock()
	}
}

func (r *relay) BatchedReceiver(req *envelope.EgressBatchRequest, stream grpc.ServerStream) error {
	id := req.GetShardId()
	r.mu.Lock()
	sh := r.queues[id]
	if sh == nil {
		sh = &shard{q: make(chan message, r.depth)}
		r.queues[id] = sh
	}
	sh.readers++
	q := sh.q
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		last := false
		if sh.readers--; sh.readers == 0 {
			delete(r.queues, id)
			last = true
		}
		r.mu.Unlock()
		if last {
			// No one writes to it any more: what it holds is dropped.
			for {
				select {
				case m := <-q:
					r.dropped.Add(uint64(m.n))
				default:
					return
				}
			}
		}
	}()
	ctx := stream.Context()
	var m wire.Message
	defer m.Release()
	for {
		var in message
		select {
		case <-ctx.Done():
			return ctx.Err()
		case in = <-q:
		}
		// Up to gather messages queued now go out as one: EnvelopeBatch
		// messages laid end to end are one EnvelopeBatch.
		m.Reset(gather * len(in.raw))
		m.B = append(m.B, in.raw...)
		n := in.n
	more:
		for range gather - 1 {
			select {
			case in = <-q:
				m.B = append(m.B, in.raw...)
				n += in.n
			default:
				break more
			}
		}
		if err := stream.SendMsg(&m); err != nil {
			r.dropped.Add(uint64(n)) // taken from the queue, never sent
			return err
		}
	}
}

// gather is how many received messages the relay sends as one at most:
// three batches of 100 envelopes, about the router's Egress batch of 250.
const gather = 3

func (r *relay) Sender(grpc.ServerStream) error {
	return status.Error(codes.Unimplemented, "relay: only BatchSender")
}

func (r *relay) Send(context.Context, *wire.Batch) error {
	return status.Error(codes.Unimplemented, "relay: only BatchSender")
}

func (r *relay) Receiver(*envelope.EgressRequest, grpc.ServerStream) error {
	return status.Error(codes.Unimplemented, "relay: only BatchedReceiver")
}

func (r *relay) metrics(w http.ResponseWriter, _ *http.Request) {
	r.mu.Lock()
	subs := 0
	for _, sh := range r.queues {
		subs += sh.readers
	}
	r.mu.Unlock()
	fmt.Fprintf(w, "ingress{component=\"ingress_server\"} %d\n", r.ingress.Load())
	fmt.Fprintf(w, "dropped{component=\"router\",direction=\"egress\"} %d\n", r.dropped.Load())
	fmt.Fprintf(w, "subscriptions{component=\"router\"} %d\n", subs)
}
