package nozzle

import (
	"context"
	"errors"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	grpcbackoff "google.golang.org/grpc/backoff"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/keepalive"

	"github.com/sluicelog/sluice/envelope"
	"github.com/sluicelog/sluice/internal/wire"
)

// grpcStream is one BatchedReceiver subscription to one Egress server,
// re-opened with backoff until its context ends. Every envelope of a
// well-formed batch goes to sink.
type grpcStream struct {
	key, addr string
	cc        *grpc.ClientConn
	req       *envelope.EgressBatchRequest
	cfg       *config
	sink      func(envs [][]byte)

	connected  atomic.Bool
	received   atomic.Uint64
	batches    atomic.Uint64
	malformed  atomic.Uint64
	reconnects atomic.Uint64
	lastErr    errRecord
	onErr      func(error) // reports errors to the owner's LastError

	leave     chan struct{} // closed by depart
	leaveOnce sync.Once
}

// depart makes the stream end once its current subscription ends (the
// router closed it): no reconnect. A stream not connected now ends at once.
func (s *grpcStream) depart() { s.leaveOnce.Do(func() { close(s.leave) }) }

func (s *grpcStream) departed() bool {
	select {
	case <-s.leave:
		return true
	default:
		return false
	}
}

func dial(addr string, cfg *config) (*grpc.ClientConn, error) {
	creds := insecure.NewCredentials()
	if cfg.tls != nil {
		creds = credentials.NewTLS(cfg.tls)
	}
	bc := grpcbackoff.DefaultConfig
	bc.BaseDelay = cfg.backoff.Base
	if bc.BaseDelay <= 0 {
		bc.BaseDelay = 50 * time.Millisecond
	}
	bc.MaxDelay = cfg.backoff.Max
	if bc.MaxDelay < bc.BaseDelay {
		bc.MaxDelay = bc.BaseDelay
	}
	opts := []grpc.DialOption{
		grpc.WithTransportCredentials(cfg.tlsWatch.ClientCredentials(creds, addr)),
		wire.DialOption(),
		// grpc's own reconnect backoff would otherwise grow to 2 minutes and
		// leave a router that came back unused long after our retries.
		grpc.WithConnectParams(grpc.ConnectParams{Backoff: bc, MinConnectTimeout: 5 * time.Second}),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(16 << 20)),
	}
	if cfg.keepalive > 0 {
		opts = append(opts, grpc.WithKeepaliveParams(keepalive.ClientParameters{Time: cfg.keepalive, Timeout: cfg.kaTimeout}))
	}
	return grpc.NewClient(addr, opts...)
}

func newGRPCStream(key, addr string, req *envelope.EgressBatchRequest, cfg *config, sink func([][]byte), onErr func(error)) (*grpcStream, error) {
	cc, err := dial(addr, cfg)
	if err != nil {
		return nil, invalid("address %q: %v", addr, err)
	}
	return &grpcStream{key: key, addr: addr, cc: cc, req: req, cfg: cfg, sink: sink, onErr: onErr, leave: make(chan struct{})}, nil
}

// run subscribes until ctx ends, or until the subscription open when
// depart is called ends; then it closes the connection.
func (s *grpcStream) run(ctx context.Context) {
	defer s.cc.Close()
	attempt := 0
	for !s.departed() {
		err := s.once(ctx, &attempt)
		s.connected.Store(false)
		if ctx.Err() != nil || s.departed() {
			return
		}
		if err == nil || errors.Is(err, io.EOF) {
			err = errStreamEnded
		}
		s.lastErr.set(err)
		s.onErr(err)
		s.cfg.logger.Debug("nozzle: stream failed, reconnecting", "addr", s.addr, "err", err, "attempt", attempt)
		t := time.NewTimer(s.cfg.backoff.Delay(attempt))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-s.leave:
			t.Stop()
			return
		case <-t.C:
		}
		attempt++
		s.reconnects.Add(1)
	}
}

// once runs one stream until it fails. attempt is reset when a batch
// arrives: the stream works, so the next failure starts backing off anew.
func (s *grpcStream) once(ctx context.Context, attempt *int) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	st, err := wire.OpenBatchedReceiver(ctx, s.cc, s.req)
	if err != nil {
		return err
	}
	s.connected.Store(true)
	for {
		var b wire.Batch
		if err := st.RecvMsg(&b); err != nil {
			return err
		}
		*attempt = 0
		if err := b.Split(); err != nil {
			s.malformed.Add(1)
			s.cfg.logger.Warn("nozzle: malformed batch dropped", "addr", s.addr, "err", err)
			continue
		}
		s.batches.Add(1)
		s.received.Add(uint64(len(b.Envelopes)))
		s.sink(b.Envelopes)
	}
}

func (s *grpcStream) stats() StreamStats {
	err, at := s.lastErr.get()
	return StreamStats{
		Key: s.key, Addr: s.addr, Connected: s.connected.Load(),
		Received: s.received.Load(), Batches: s.batches.Load(), Malformed: s.malformed.Load(),
		Reconnects: s.reconnects.Load(), LastError: err, LastErrorAt: at,
	}
}
