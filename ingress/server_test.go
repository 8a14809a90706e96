package ingress

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/sluicelog/sluice/diode"
	"github.com/sluicelog/sluice/envelope"
	"github.com/sluicelog/sluice/internal/buftest"
	"github.com/sluicelog/sluice/internal/testtls"
	"github.com/sluicelog/sluice/internal/wire"
)

func TestNewServerValidates(t *testing.T) {
	_, err := NewServer(nil)
	require.ErrorIs(t, err, ErrInvalidConfig)
	buf := newBuffer(t)
	for name, o := range map[string]ServerOption{
		"negative max message":   WithMaxMessageSize(-1),
		"negative keepalive":     WithKeepalive(-time.Second, 0),
		"negative timeout":       WithKeepalive(0, -time.Second),
		"negative min ping time": WithMinPingInterval(-time.Second),
	} {
		s, err := NewServer(buf, o)
		require.ErrorIs(t, err, ErrInvalidConfig, name)
		assert.Nil(t, s)
	}
	s, err := NewServer(buf, nil, WithKeepalive(0, 0), WithMinPingInterval(0))
	require.NoError(t, err, "nil options are skipped, zero values keep the defaults")
	assert.Equal(t, DefaultMinPingInterval, s.cfg.kaMinPing)
}

// All three Ingress methods work over mutual TLS, with sluice's raw client
// helpers and with a stock generated client (what Loggregator's agent is),
// and the buffer holds exactly the envelopes sent, byte for byte.
func TestServerAllMethodsMTLS(t *testing.T) {
	tp := newTLS(t)
	buf := newBuffer(t)
	s, addr := startServer(t, buf, WithTLS(tp.server))
	cc := dial(t, addr, tp.client)
	ctx := testCtx(t)

	var want [][]byte
	// BatchSender, two batches.
	b1, b2 := logs(t, "bs", 3), logs(t, "bs", 2)
	require.NoError(t, sendBatches(ctx, cc, &wire.Batch{Envelopes: b1}, &wire.Batch{Envelopes: b2}))
	want = append(append(want, b1...), b2...)
	// Send (acknowledged): in the buffer when it returns.
	b3 := logs(t, "send", 4)
	require.NoError(t, wire.Send(ctx, cc, &wire.Batch{Envelopes: b3}))
	want = append(want, b3...)
	assert.Equal(t, uint64(len(want)), buf.Stats().Written)
	// Sender, one envelope per message.
	st, err := wire.OpenSender(ctx, cc)
	require.NoError(t, err)
	for _, e := range logs(t, "sender", 2) {
		require.NoError(t, st.SendMsg(&wire.Envelope{Raw: e}))
		want = append(want, e)
	}
	require.NoError(t, st.CloseSend())
	require.NoError(t, st.RecvMsg(&envelope.IngressResponse{}))

	// A stock generated client.
	stock := envelope.NewIngressClient(cc)
	e1 := envelope.NewCounter("stock", "requests", 3)
	e2 := envelope.NewGauge("stock", []envelope.Metric{{Name: "cpu", Unit: "percent", Value: 1.5}})
	bs, err := stock.BatchSender(ctx)
	require.NoError(t, err)
	require.NoError(t, bs.Send(&envelope.Batch{Batch: []*envelope.Envelope{e1, e2}}))
	_, err = bs.CloseAndRecv()
	require.NoError(t, err)
	_, err = stock.Send(ctx, &envelope.Batch{Batch: []*envelope.Envelope{e2}})
	require.NoError(t, err)
	snd, err := stock.Sender(ctx)
	require.NoError(t, err)
	require.NoError(t, snd.Send(e1))
	_, err = snd.CloseAndRecv()
	require.NoError(t, err)

	got := buftest.Drain(buf)
	require.Len(t, got, len(want)+4)
	for i, w := range want {
		assert.Equal(t, w, got[i], "envelope %d", i)
	}
	for i, w := range []*envelope.Envelope{e1, e2, e2, e1} {
		assert.True(t, proto.Equal(w, decode(t, got[len(want)+i])), "stock envelope %d", i)
	}
	stats := s.Stats()
	assert.Equal(t, uint64(len(want)+4), stats.Ingress)
	assert.Empty(t, stats.Dropped)
	assert.Zero(t, stats.Rejected.Total())
	assert.Equal(t, uint64(len(want)+4), buf.Stats().Read)
}

func TestServerRefusesOversize(t *testing.T) {
	tp := newTLS(t)
	buf := newBuffer(t)
	const max = 4096
	s, addr := startServer(t, buf, WithTLS(tp.server), WithMaxMessageSize(max))
	cc := dial(t, addr, tp.client)
	ctx := testCtx(t)

	good := logs(t, "ok", 5)
	big := func(n int) *wire.Batch {
		return &wire.Batch{Envelopes: [][]byte{marshal(t, envelope.NewLog("big", make([]byte, n)))}}
	}
	tests := []struct {
		name string
		send func() error
	}{
		// Just over the limit: the handler refuses it.
		{"stream just over", func() error { return sendBatches(ctx, cc, &wire.Batch{Envelopes: good}, big(max)) }},
		// Far over (beyond grpc's own limit): grpc refuses it, the handler counts it.
		{"stream far over", func() error { return sendBatches(ctx, cc, &wire.Batch{Envelopes: good}, big(4*max)) }},
		{"send just over", func() error { return wire.Send(ctx, cc, big(max)) }},
		{"sender just over", func() error {
			st, err := wire.OpenSender(ctx, cc)
			require.NoError(t, err)
			_ = st.SendMsg(&wire.Envelope{Raw: good[0]})
			_ = st.SendMsg(&wire.Envelope{Raw: big(max).Envelopes[0]})
			_ = st.CloseSend()
			return st.RecvMsg(&envelope.IngressResponse{})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.send()
			require.Equal(t, codes.ResourceExhausted, status.Code(err), "%v", err)
		})
	}
	stats := s.Stats()
	assert.Equal(t, uint64(len(tests)), stats.Rejected.TooLarge)
	// The good batches sent before on the same streams are kept.
	assert.Equal(t, uint64(2*len(good)+1), stats.Ingress)
	assert.Len(t, buftest.Drain(buf), 2*len(good)+1)
	// A message of exactly the limit is accepted.
	payload := max - len(marshal(t, envelope.NewLog("big", nil))) - 8
	b := big(payload)
	for b.Size() < max {
		payload++
		b = big(payload)
	}
	for b.Size() > max {
		payload--
		b = big(payload)
	}
	require.Equal(t, max, b.Size())
	require.NoError(t, wire.Send(ctx, cc, b))
}

func TestServerRefusesMalformed(t *testing.T) {
	tp := newTLS(t)
	buf := newBuffer(t)
	s, addr := startServer(t, buf, WithTLS(tp.server))
	cc := dial(t, addr, tp.client)
	ctx := testCtx(t)
	good := logs(t, "ok", 3)
	bad := []byte{0x12, 0x01, 0xff} // source_id that is not UTF-8

	tests := []struct {
		name    string
		send    func() error
		message string
	}{
		{"garbage batch", func() error {
			return sendBatches(ctx, cc, &wire.Batch{Envelopes: good}, &wire.Batch{Raw: []byte("\xff\xff\xff garbage")})
		}, "ingress: batch refused"},
		{"one bad envelope", func() error {
			return sendBatches(ctx, cc, &wire.Batch{Envelopes: good}, &wire.Batch{Envelopes: [][]byte{good[0], bad, good[1]}})
		}, "envelope 1 of batch"},
		{"send with bad envelope", func() error {
			return wire.Send(ctx, cc, &wire.Batch{Envelopes: [][]byte{bad}})
		}, "envelope 0 of batch"},
		{"sender garbage", func() error {
			st, err := wire.OpenSender(ctx, cc)
			require.NoError(t, err)
			_ = st.SendMsg(&wire.Envelope{Raw: good[0]})
			_ = st.SendMsg(&wire.Envelope{Raw: bad})
			_ = st.CloseSend()
			return st.RecvMsg(&envelope.IngressResponse{})
		}, "envelope 1 of stream"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.send()
			require.Equal(t, codes.InvalidArgument, status.Code(err), "%v", err)
			assert.Contains(t, status.Convert(err).Message(), tt.message)
			assert.Contains(t, status.Convert(err).Message(), "malformed")
		})
	}
	stats := s.Stats()
	assert.Equal(t, uint64(len(tests)), stats.Rejected.Malformed)
	want := 2*len(good) + 1 // two good batches, one good envelope on Sender
	assert.Equal(t, uint64(want), stats.Ingress)
	got := buftest.Drain(buf)
	require.Len(t, got, want)
	for _, e := range got {
		assert.NotEqual(t, bad, e)
	}
}

func TestServerMTLSRefusesClientWithoutValidCert(t *testing.T) {
	tp := newTLS(t)
	buf := newBuffer(t)
	s, addr := startServer(t, buf, WithTLS(tp.server))
	ctx := testCtx(t)
	require.NoError(t, wire.Send(ctx, dial(t, addr, tp.client), &wire.Batch{Envelopes: logs(t, "ok", 2)}))

	other, err := testtls.NewCA("other")
	require.NoError(t, err)
	foreign, err := other.ClientConfig()
	require.NoError(t, err)
	foreign.RootCAs = tp.ca.Pool() // trusts the server, but its certificate is signed by another CA

	tests := []struct {
		name string
		cfg  *tls.Config
	}{
		{"no certificate", &tls.Config{RootCAs: tp.ca.Pool(), ServerName: "localhost", MinVersion: tls.VersionTLS12}},
		{"certificate of another CA", foreign},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cc := dial(t, addr, tt.cfg)
			sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			err := wire.Send(sctx, cc, &wire.Batch{Envelopes: logs(t, "intruder", 1)})
			require.Error(t, err)
			assert.NotEqual(t, codes.OK, status.Code(err))
			err = sendBatches(sctx, cc, &wire.Batch{Envelopes: logs(t, "intruder", 1)})
			require.Error(t, err)
		})
	}
	assert.Equal(t, uint64(2), s.Stats().Ingress)
	got := buftest.Drain(buf)
	require.Len(t, got, 2)
	for _, e := range got {
		assert.Equal(t, "ok", decode(t, e).GetSourceId())
	}
}

func TestServerFillsSourceIDFromOrigin(t *testing.T) {
	tp := newTLS(t)
	buf := newBuffer(t)
	s, addr := startServer(t, buf, WithTLS(tp.server))
	cc := dial(t, addr, tp.client)
	ctx := testCtx(t)

	withTag := envelope.NewLog("", []byte("a"), envelope.WithTag("origin", "from-tag"))
	withDeprecated := envelope.NewLog("", []byte("b"))
	withDeprecated.DeprecatedTags = map[string]*envelope.Value{"origin": {Data: &envelope.Value_Text{Text: "from-deprecated"}}}
	both := envelope.NewLog("", []byte("c"), envelope.WithTag("origin", "tag-wins"))
	both.DeprecatedTags = withDeprecated.DeprecatedTags
	none := envelope.NewLog("", []byte("d"), envelope.WithTag("other", "x"))
	set := envelope.NewLog("mine", []byte("e"), envelope.WithTag("origin", "ignored"))
	envs := []*envelope.Envelope{withTag, withDeprecated, both, none, set}
	wantIDs := []string{"from-tag", "from-deprecated", "tag-wins", "", "mine"}

	raw := make([][]byte, len(envs))
	for i, e := range envs {
		raw[i] = marshal(t, e)
	}
	require.NoError(t, sendBatches(ctx, cc, &wire.Batch{Envelopes: raw}))
	st, err := wire.OpenSender(ctx, cc)
	require.NoError(t, err)
	for _, e := range raw {
		require.NoError(t, st.SendMsg(&wire.Envelope{Raw: e}))
	}
	require.NoError(t, st.CloseSend())
	require.NoError(t, st.RecvMsg(&envelope.IngressResponse{}))

	got := buftest.Drain(buf)
	require.Len(t, got, 2*len(envs))
	for i, g := range got {
		j := i % len(envs)
		e := decode(t, g)
		assert.Equal(t, wantIDs[j], e.GetSourceId(), "envelope %d", i)
		want := proto.Clone(envs[j]).(*envelope.Envelope)
		want.SourceId = wantIDs[j]
		assert.True(t, proto.Equal(want, e), "envelope %d otherwise unchanged", i)
	}
	// Envelopes that need nothing are passed through as the same bytes.
	assert.True(t, bytes.Equal(raw[4], got[4]))
	assert.True(t, bytes.Equal(raw[3], got[3]))
	assert.Equal(t, uint64(6), s.Stats().OriginFilled)
}

// openStream starts a server over mutual TLS and an open BatchSender
// stream to it that has delivered n envelopes.
type openStream struct {
	tp   tlsPair
	buf  *diode.ManyToOne[[]byte]
	s    *Server
	addr string
	ctx  context.Context
	st   grpc.ClientStream
}

func newOpenStream(t *testing.T, n int) openStream {
	o := openStream{tp: newTLS(t), buf: newBuffer(t), ctx: testCtx(t)}
	o.s, o.addr = startServer(t, o.buf, WithTLS(o.tp.server))
	var err error
	o.st, err = wire.OpenBatchSender(o.ctx, dial(t, o.addr, o.tp.client))
	require.NoError(t, err)
	require.NoError(t, o.st.SendMsg(&wire.Batch{Envelopes: logs(t, "a", n)}))
	require.Eventually(t, func() bool { return o.s.Stats().Ingress == uint64(n) }, 20*time.Second, time.Millisecond)
	return o
}

func TestServerShutdownLetsOpenStreamFinish(t *testing.T) {
	o := newOpenStream(t, 10)
	s, st, ctx, buf, tp, addr := o.s, o.st, o.ctx, o.buf, o.tp, o.addr
	var err error

	shut := make(chan error, 1)
	go func() { shut <- s.Shutdown(ctx) }()
	require.Eventually(t, s.host.Closed, 20*time.Second, time.Millisecond)
	// New streams and calls are refused...
	cc2 := dial(t, addr, tp.client)
	err = wire.Send(ctx, cc2, &wire.Batch{Envelopes: logs(t, "late", 1)})
	require.Error(t, err)
	// ...while the open stream finishes what it sends.
	require.NoError(t, st.SendMsg(&wire.Batch{Envelopes: logs(t, "a", 5)}))
	require.NoError(t, st.CloseSend())
	require.NoError(t, st.RecvMsg(&envelope.BatchSenderResponse{}))
	require.NoError(t, <-shut)

	assert.Len(t, buftest.Drain(buf), 15)
	assert.Equal(t, uint64(15), s.Stats().Ingress)
	assert.Zero(t, s.Stats().OpenStreams)
	_, err = s.Start("127.0.0.1:0")
	assert.ErrorIs(t, err, ErrServerClosed)
	assert.NoError(t, s.Shutdown(ctx), "twice")
	assert.NoError(t, s.Close())
}

func TestServerShutdownGivesUpWhenCtxEnds(t *testing.T) {
	o := newOpenStream(t, 7)
	s, st, ctx, buf := o.s, o.st, o.ctx, o.buf

	sctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	require.ErrorIs(t, s.Shutdown(sctx), context.DeadlineExceeded)
	err := st.RecvMsg(&envelope.BatchSenderResponse{})
	require.Error(t, err, "the stream was cut")
	assert.Len(t, buftest.Drain(buf), 7, "what was accepted stays")
}

func TestServerLifecycleWithoutServe(t *testing.T) {
	s, err := NewServer(diode.Discard[[]byte]())
	require.NoError(t, err)
	assert.Nil(t, s.Addr())
	require.NoError(t, s.Shutdown(context.Background()))
	require.NoError(t, s.Close())
	require.NoError(t, s.Close())
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	require.ErrorIs(t, s.Serve(lis), ErrServerClosed)
}

func TestServerServeReturnsErrServerClosed(t *testing.T) {
	s, err := NewServer(diode.Discard[[]byte]())
	require.NoError(t, err)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	served := make(chan error, 1)
	go func() { served <- s.Serve(lis) }()
	require.Eventually(t, func() bool { return s.Addr() != nil }, 20*time.Second, time.Millisecond)
	assert.Equal(t, lis.Addr().String(), s.Addr().String())
	require.NoError(t, s.Close())
	require.ErrorIs(t, <-served, ErrServerClosed)
}

// Ingress registered on a grpc.Server shared with other services: the
// owner serves and stops it; Close makes the handlers refuse.
func TestServerRegisterOnSharedServer(t *testing.T) {
	s, _, buf, cc := sharedServer(t)
	ctx := testCtx(t)

	st, err := wire.OpenBatchSender(ctx, cc)
	require.NoError(t, err)
	require.NoError(t, st.SendMsg(&wire.Batch{Envelopes: logs(t, "a", 4)}))
	require.Eventually(t, func() bool { return s.Stats().Ingress == 4 }, 20*time.Second, time.Millisecond)
	require.Equal(t, int64(1), s.Stats().OpenStreams)

	require.NoError(t, s.Close())
	_ = st.SendMsg(&wire.Batch{Envelopes: logs(t, "a", 3)})
	err = st.RecvMsg(&envelope.BatchSenderResponse{})
	require.Equal(t, codes.Unavailable, status.Code(err), "%v", err)
	err = wire.Send(ctx, cc, &wire.Batch{Envelopes: logs(t, "b", 1)})
	require.Equal(t, codes.Unavailable, status.Code(err), "%v", err)
	stats := s.Stats()
	assert.Equal(t, uint64(2), stats.Rejected.Closed)
	assert.Equal(t, uint64(4), stats.Ingress)
	assert.Len(t, buftest.Drain(buf), 4)
	assert.True(t, errors.Is(s.Shutdown(ctx), nil))
}

// A client that never closes its stream does not hold Shutdown up: after
// the drain the Server returns nil and the stream's next message is told to
// go elsewhere (Unavailable), on its own grpc.Server and on a shared one.
func TestServerShutdownEndsStreamsAfterDrain(t *testing.T) {
	t.Run("own server", func(t *testing.T) {
		tp := newTLS(t)
		buf := newBuffer(t)
		s, err := NewServer(buf, WithTLS(tp.server), WithDrain(200*time.Millisecond))
		require.NoError(t, err)
		addr, err := s.Start("127.0.0.1:0")
		require.NoError(t, err)
		ctx := testCtx(t)
		st, err := wire.OpenBatchSender(ctx, dial(t, addr.String(), tp.client))
		require.NoError(t, err)
		require.NoError(t, st.SendMsg(&wire.Batch{Envelopes: logs(t, "a", 4)}))
		require.Eventually(t, func() bool { return s.Stats().Ingress == 4 }, 20*time.Second, time.Millisecond)
		start := time.Now()
		require.NoError(t, s.Shutdown(ctx))
		assert.Less(t, time.Since(start), 10*time.Second)
		require.Error(t, st.RecvMsg(&envelope.BatchSenderResponse{}), "the stream was ended")
		assert.Len(t, buftest.Drain(buf), 4, "what was accepted stays")
	})
	t.Run("shared server", func(t *testing.T) {
		s, gs, buf, cc := sharedServer(t, WithDrain(200*time.Millisecond))
		ctx := testCtx(t)
		st, err := wire.OpenBatchSender(ctx, cc)
		require.NoError(t, err)
		require.NoError(t, st.SendMsg(&wire.Batch{Envelopes: logs(t, "a", 4)}))
		require.Eventually(t, func() bool { return s.Stats().Ingress == 4 }, 20*time.Second, time.Millisecond)
		go gs.GracefulStop() // GOAWAY, as the owner does
		sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		require.NoError(t, s.Shutdown(sctx), "the stream that stays open does not hold the stop")
		_ = st.SendMsg(&wire.Batch{Envelopes: logs(t, "a", 3)})
		err = st.RecvMsg(&envelope.BatchSenderResponse{})
		require.Equal(t, codes.Unavailable, status.Code(err), "%v", err)
		assert.Equal(t, uint64(1), s.Stats().Rejected.Closed)
		assert.Len(t, buftest.Drain(buf), 4)
	})
}

// sharedServer registers a Server with opts on a grpc.Server of its own
// options, serving on loopback (stopped at cleanup), and dials it.
func sharedServer(t *testing.T, opts ...ServerOption) (*Server, *grpc.Server, *diode.ManyToOne[[]byte], *grpc.ClientConn) {
	t.Helper()
	tp := newTLS(t)
	buf := newBuffer(t)
	s, err := NewServer(buf, append([]ServerOption{WithTLS(tp.server)}, opts...)...)
	require.NoError(t, err)
	gs := grpc.NewServer(s.GRPCServerOptions()...)
	s.Register(gs)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go gs.Serve(lis) //nolint:errcheck
	t.Cleanup(gs.Stop)
	return s, gs, buf, dial(t, lis.Addr().String(), tp.client)
}
