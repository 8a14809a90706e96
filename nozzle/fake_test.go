package nozzle_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/sluicelog/sluice/envelope"
	"github.com/sluicelog/sluice/internal/wire"
)

// fakeRouter is a stand-in Egress server: every BatchedReceiver subscriber
// gets every published batch, with blocking sends, so nothing is lost at the
// router and tests can count exactly.
type fakeRouter struct {
	t    testing.TB
	addr string
	tls  *tls.Config

	mu   sync.Mutex
	gs   *grpc.Server
	subs map[*fakeSub]struct{}
	reqs []*envelope.EgressBatchRequest
	cond chan struct{} // closed and replaced on every change of subs
}

type fakeSub struct {
	ch   chan [][]byte
	done chan struct{}
}

func startFakeRouter(t testing.TB, serverTLS *tls.Config) *fakeRouter {
	r := &fakeRouter{t: t, tls: serverTLS, subs: map[*fakeSub]struct{}{}, cond: make(chan struct{})}
	r.start("127.0.0.1:0")
	t.Cleanup(r.stop)
	return r
}

func (r *fakeRouter) start(addr string) {
	var lis net.Listener
	var err error
	for i := 0; i < 100; i++ { // the old socket may linger a moment after a stop
		if lis, err = net.Listen("tcp", addr); err == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	require.NoError(r.t, err)
	opts := []grpc.ServerOption{wire.ServerOption()}
	if r.tls != nil {
		opts = append(opts, grpc.Creds(credentials.NewTLS(r.tls)))
	}
	gs := grpc.NewServer(opts...)
	wire.RegisterEgress(gs, r)
	r.mu.Lock()
	r.gs, r.addr = gs, lis.Addr().String()
	r.mu.Unlock()
	go gs.Serve(lis)
}

// stop ends the server abruptly (connections closed, streams broken).
func (r *fakeRouter) stop() {
	r.mu.Lock()
	gs := r.gs
	r.gs = nil
	r.mu.Unlock()
	if gs != nil {
		gs.Stop()
	}
}

func (r *fakeRouter) restart() { r.start(r.addr) }

func (r *fakeRouter) changed() {
	close(r.cond)
	r.cond = make(chan struct{})
}

func (r *fakeRouter) Receiver(*envelope.EgressRequest, grpc.ServerStream) error {
	return status.Error(codes.Unimplemented, "fake: use BatchedReceiver")
}

func (r *fakeRouter) BatchedReceiver(req *envelope.EgressBatchRequest, st grpc.ServerStream) error {
	if _, err := envelope.RequestSelectors(req); err != nil {
		return status.Error(codes.InvalidArgument, err.Error())
	}
	s := &fakeSub{ch: make(chan [][]byte), done: make(chan struct{})}
	r.mu.Lock()
	r.subs[s] = struct{}{}
	r.reqs = append(r.reqs, req)
	r.changed()
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		delete(r.subs, s)
		close(s.done)
		r.changed()
		r.mu.Unlock()
	}()
	for {
		select {
		case <-st.Context().Done():
			return st.Context().Err()
		case b := <-s.ch:
			if err := st.SendMsg(&wire.Batch{Envelopes: b}); err != nil {
				return err
			}
		}
	}
}

// waitSubs waits until the router has n subscribers.
func (r *fakeRouter) waitSubs(n int) {
	r.t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		r.mu.Lock()
		got, cond := len(r.subs), r.cond
		r.mu.Unlock()
		if got == n {
			return
		}
		select {
		case <-cond:
		case <-deadline:
			r.t.Fatalf("router %s: %d subscribers, want %d", r.addr, got, n)
		}
	}
}

// publish sends b to every subscriber, waiting until each has taken it.
func (r *fakeRouter) publish(b [][]byte) {
	r.mu.Lock()
	subs := make([]*fakeSub, 0, len(r.subs))
	for s := range r.subs {
		subs = append(subs, s)
	}
	r.mu.Unlock()
	for _, s := range subs {
		select {
		case s.ch <- b:
		case <-s.done:
		}
	}
}

// seqBatch returns n log envelopes from sourceID numbered from first.
func seqBatch(t testing.TB, sourceID string, first, n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		b, err := proto.Marshal(envelope.NewLog(sourceID, fmt.Appendf(nil, "%d", first+i)))
		require.NoError(t, err)
		out[i] = b
	}
	return out
}

func logRequest(shard string) *envelope.EgressBatchRequest {
	return &envelope.EgressBatchRequest{
		ShardId:   shard,
		Selectors: []*envelope.Selector{{Message: &envelope.Selector_Log{Log: &envelope.LogSelector{}}}},
	}
}

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func decodeEnv(b []byte) (*envelope.Envelope, error) {
	e := new(envelope.Envelope)
	return e, proto.Unmarshal(b, e)
}
