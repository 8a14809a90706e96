package ingress

import (
	"context"
	"crypto/tls"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/protobuf/proto"

	"github.com/sluicelog/sluice/diode"
	"github.com/sluicelog/sluice/envelope"
	"github.com/sluicelog/sluice/internal/testtls"
	"github.com/sluicelog/sluice/internal/wire"
)

// tlsPair is a mutual TLS setup: a server config requiring client
// certificates and a client config presenting one.
type tlsPair struct {
	ca             *testtls.CA
	server, client *tls.Config
}

func newTLS(t *testing.T) tlsPair {
	ca, server, client := testtls.Must(t)
	return tlsPair{ca: ca, server: server, client: client}
}

func newBuffer(t *testing.T) *diode.ManyToOne[[]byte] {
	t.Helper()
	buf, err := diode.NewManyToOne[[]byte](1 << 16)
	require.NoError(t, err)
	return buf
}

// startServer starts a Server on a free loopback port and closes it when
// the test ends.
func startServer(t *testing.T, buf diode.Buffer[[]byte], opts ...ServerOption) (*Server, string) {
	t.Helper()
	s, err := NewServer(buf, opts...)
	require.NoError(t, err)
	addr, err := s.Start("127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return s, addr.String()
}

// dial opens a raw connection (wire codec) to addr, with cfg or plaintext.
func dial(t *testing.T, addr string, cfg *tls.Config) *grpc.ClientConn {
	t.Helper()
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(credentials.NewTLS(cfg)))
	require.NoError(t, err)
	t.Cleanup(func() { cc.Close() })
	return cc
}

func decode(t *testing.T, b []byte) *envelope.Envelope {
	t.Helper()
	var e envelope.Envelope
	require.NoError(t, proto.Unmarshal(b, &e))
	return &e
}

func marshal(t testing.TB, e *envelope.Envelope) []byte {
	t.Helper()
	b, err := proto.Marshal(e)
	require.NoError(t, err)
	return b
}

// logs returns the wire bytes of n log envelopes of source src.
func logs(t testing.TB, src string, n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		out[i] = marshal(t, envelope.NewLog(src, []byte("payload")))
	}
	return out
}

// sendBatches writes batches on one BatchSender stream, closes it and
// returns the server's answer.
func sendBatches(ctx context.Context, cc *grpc.ClientConn, batches ...*wire.Batch) error {
	st, err := wire.OpenBatchSender(ctx, cc)
	if err != nil {
		return err
	}
	for _, b := range batches {
		if err := st.SendMsg(b); err != nil {
			break // the answer says why
		}
	}
	if err := st.CloseSend(); err != nil {
		return err
	}
	return st.RecvMsg(&envelope.BatchSenderResponse{})
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}
