package dropsonde_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/sluicelog/sluice/diode"
	"github.com/sluicelog/sluice/dropsonde"
	"github.com/sluicelog/sluice/dropsonde/events"
	"github.com/sluicelog/sluice/dropsonde/plumbing"
	"github.com/sluicelog/sluice/envelope"
	"github.com/sluicelog/sluice/ingress"
	"github.com/sluicelog/sluice/internal/testtls"
	"github.com/sluicelog/sluice/stats"
)

// serve starts a TLS grpc.Server on loopback serving v2 Ingress (an
// ingress.Server) and v1 DopplerIngestor (the Ingestor) into one buffer, as
// a router would, and returns a client connection to it.
func serve(t *testing.T, buf diode.Buffer[[]byte], opts ...dropsonde.Option) (*dropsonde.Ingestor, *grpc.ClientConn) {
	t.Helper()
	_, serverTLS, clientTLS := testtls.Must(t)
	v2, err := ingress.NewServer(buf, ingress.WithTLS(serverTLS))
	require.NoError(t, err)
	ing, err := dropsonde.NewIngestor(buf, opts...)
	require.NoError(t, err)

	gs := grpc.NewServer(v2.GRPCServerOptions()...)
	v2.Register(gs)
	ing.Register(gs)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	done := make(chan struct{})
	go func() { defer close(done); gs.Serve(lis) }()
	t.Cleanup(func() { gs.Stop(); <-done; v2.Close() })

	cc, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(credentials.NewTLS(clientTLS)))
	require.NoError(t, err)
	t.Cleanup(func() { cc.Close() })
	return ing, cc
}

// push is the v1 client: it sends payloads on one Pusher stream and closes
// it; when it returns, the server has handled every payload.
func push(t *testing.T, cc *grpc.ClientConn, payloads ...[]byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := plumbing.NewDopplerIngestorClient(cc).Pusher(ctx)
	require.NoError(t, err)
	for _, p := range payloads {
		require.NoError(t, st.Send(&plumbing.EnvelopeData{Payload: p}))
	}
	_, err = st.CloseAndRecv()
	require.NoError(t, err)
}

func v1AppLog(i int) *events.Envelope {
	return &events.Envelope{
		Origin: proto.String("rep"), EventType: events.Envelope_LogMessage.Enum(), Timestamp: proto.Int64(int64(1000 + i)),
		Deployment: proto.String("cf"), Job: proto.String("diego-cell"), Index: proto.String("0"), Ip: proto.String("10.0.0.1"),
		Tags: map[string]string{"space": "dev"},
		LogMessage: &events.LogMessage{
			Message: []byte(fmt.Sprintf("line %d", i)), MessageType: events.LogMessage_OUT.Enum(), Timestamp: proto.Int64(int64(1000 + i)),
			AppId: proto.String("app-guid"), SourceType: proto.String("APP/PROC/WEB"), SourceInstance: proto.String(fmt.Sprint(i % 3)),
		},
	}
}

// 100 v1 logs in through a v1 client, 100 v2 envelopes out of the buffer,
// field by field; a v2 client on the same server is unaffected.
func TestIngestorEndToEnd(t *testing.T) {
	buf, err := diode.NewManyToOne[[]byte](1024)
	require.NoError(t, err)
	ing, cc := serve(t, buf)

	const n = 100
	payloads := make([][]byte, n)
	for i := range n {
		payloads[i] = mustMarshal(t, v1AppLog(i))
	}
	push(t, cc, payloads...)

	st := ing.Stats()
	assert.Equal(t, dropsonde.IngestorStats{
		Received:  n,
		Converted: dropsonde.Converted{LogMessage: n},
	}, st)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for i := range n {
		b, err := buf.Next(ctx)
		require.NoError(t, err)
		var got envelope.Envelope
		require.NoError(t, proto.Unmarshal(b, &got))
		want := &envelope.Envelope{
			Timestamp: int64(1000 + i), SourceId: "app-guid", InstanceId: fmt.Sprint(i % 3),
			Tags: map[string]string{
				"space": "dev", "origin": "rep", "deployment": "cf", "job": "diego-cell", "index": "0", "ip": "10.0.0.1",
				"__v1_type": "LogMessage", "source_type": "APP/PROC/WEB",
			},
			Message: &envelope.Envelope_Log{Log: &envelope.Log{Payload: []byte(fmt.Sprintf("line %d", i))}},
		}
		assertProtoEqual(t, want, &got, "envelope %d", i)
	}
	_, ok := buf.TryNext()
	assert.False(t, ok, "nothing more in the buffer")

	// v2 Ingress on the same grpc.Server still works.
	client := envelope.NewIngressClient(cc)
	_, err = client.Send(ctx, &envelope.EnvelopeBatch{Batch: []*envelope.Envelope{envelope.NewLog("v2", []byte("x"))}})
	require.NoError(t, err)
	b, err := buf.Next(ctx)
	require.NoError(t, err)
	var v2 envelope.Envelope
	require.NoError(t, proto.Unmarshal(b, &v2))
	assert.Equal(t, "v2", v2.GetSourceId())
	assert.Equal(t, uint64(n), ing.Stats().Received, "the v2 envelope is not the Ingestor's")
}

// recorder is a slog.Handler that keeps the records it gets.
type recorder struct {
	mu      sync.Mutex
	records []slog.Record
}

func (r *recorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *recorder) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.records = append(r.records, rec.Clone())
	return nil
}
func (r *recorder) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r *recorder) WithGroup(string) slog.Handler      { return r }

func (r *recorder) all() []slog.Record {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]slog.Record(nil), r.records...)
}

// Refused payloads are counted by cause and skipped; the stream goes on;
// warnings are rate-limited.
func TestIngestorRefusesAndContinues(t *testing.T) {
	buf, err := diode.NewManyToOne[[]byte](1024)
	require.NoError(t, err)
	rec := &recorder{}
	ing, cc := serve(t, buf, dropsonde.WithLogger(slog.New(rec)), dropsonde.WithWarnInterval(time.Hour), nil)

	noOrigin := v1Counter()
	noOrigin.Origin = nil
	heartbeat := v1Log()
	heartbeat.EventType = events.Envelope_EventType(1).Enum()
	push(t, cc,
		mustMarshal(t, v1Log()),
		[]byte{0xff, 0xff},              // not protobuf
		partial(t, noOrigin),            // required field unset
		mustMarshal(t, heartbeat),       // removed type
		mustMarshal(t, v1ValueMetric()), // the stream goes on
		mustMarshal(t, v1Counter()),
		mustMarshal(t, v1ContainerMetric()),
		mustMarshal(t, v1HTTP()),
		mustMarshal(t, v1Error()),
	)

	st := ing.Stats()
	assert.Equal(t, dropsonde.IngestorStats{
		Received: 9,
		Converted: dropsonde.Converted{
			LogMessage: 1, ValueMetric: 1, CounterEvent: 1, ContainerMetric: 1, HttpStartStop: 1, Error: 1,
		},
		Refused: dropsonde.Refused{Malformed: 2, UnsupportedType: 1},
	}, st)
	assert.Equal(t, st.Received, st.Converted.Total()+st.Refused.Total())
	assert.Equal(t, []string{
		"counter ingress 6",
		"counter rejected cause=malformed 2",
		"counter rejected cause=unsupported_type 1",
		"counter rejected cause=closed 0",
		"counter rejected_streams 0",
		"gauge streams 0",
	}, reported(ing))

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, want := range []*events.Envelope{v1Log(), v1ValueMetric(), v1Counter(), v1ContainerMetric(), v1HTTP(), v1Error()} {
		b, err := buf.Next(ctx)
		require.NoError(t, err)
		var got envelope.Envelope
		require.NoError(t, proto.Unmarshal(b, &got))
		assertProtoEqual(t, dropsonde.ToV2(want), &got, want.GetEventType().String())
	}

	records := rec.all()
	require.Len(t, records, 1, "one warning per interval")
	assert.Equal(t, slog.LevelWarn, records[0].Level)
	attrs := map[string]string{}
	records[0].Attrs(func(a slog.Attr) bool { attrs[a.Key] = a.Value.String(); return true })
	assert.Equal(t, "malformed", attrs["cause"])
}

func TestNewIngestorInvalidConfig(t *testing.T) {
	buf := diode.Discard[[]byte]()
	_, err := dropsonde.NewIngestor(nil)
	require.ErrorIs(t, err, dropsonde.ErrInvalidConfig)
	_, err = dropsonde.NewIngestor(buf, dropsonde.WithWarnInterval(0))
	require.ErrorIs(t, err, dropsonde.ErrInvalidConfig)
	_, err = dropsonde.NewIngestor(buf, nil, dropsonde.WithLogger(nil))
	require.NoError(t, err)
}

// reported lists what r reports, one "kind name tags value" line per metric.
func reported(r stats.Reporter) []string {
	var out []string
	r.Report(func(m stats.Metric) {
		line := m.Kind.String() + " " + m.Name
		for _, t := range m.Tags {
			line += " " + t.Key + "=" + t.Value
		}
		out = append(out, fmt.Sprintf("%s %v", line, m.Value))
	})
	return out
}

// Shutdown waits for the open stream to end and refuses new streams; Close
// refuses the next message of a stream still open, and both are counted.
func TestIngestorShutdownAndClose(t *testing.T) {
	buf, err := diode.NewManyToOne[[]byte](64)
	require.NoError(t, err)
	ing, cc := serve(t, buf)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	open, err := plumbing.NewDopplerIngestorClient(cc).Pusher(ctx)
	require.NoError(t, err)
	require.NoError(t, open.Send(&plumbing.EnvelopeData{Payload: mustMarshal(t, v1Log())}))
	require.Eventually(t, func() bool { return ing.Stats().Converted.Total() == 1 }, 5*time.Second, time.Millisecond)

	short, stop := context.WithTimeout(ctx, 50*time.Millisecond)
	defer stop()
	require.ErrorIs(t, ing.Shutdown(short), context.DeadlineExceeded, "the open stream never ends by itself")

	// Closed now: the next message on the open stream ends it, counted.
	require.NoError(t, open.Send(&plumbing.EnvelopeData{Payload: mustMarshal(t, v1Log())}))
	_, err = open.CloseAndRecv()
	require.Equal(t, codes.Unavailable, status.Code(err), "%v", err)
	// A new stream is refused.
	late, err := plumbing.NewDopplerIngestorClient(cc).Pusher(ctx)
	require.NoError(t, err)
	_, err = late.CloseAndRecv()
	require.Equal(t, codes.Unavailable, status.Code(err), "%v", err)

	st := ing.Stats()
	assert.Equal(t, uint64(2), st.Received)
	assert.Equal(t, uint64(1), st.Converted.Total())
	assert.Equal(t, dropsonde.Refused{Closed: 1}, st.Refused)
	assert.Equal(t, uint64(1), st.RejectedStreams)
	assert.Equal(t, int64(0), st.OpenStreams)
	require.NoError(t, ing.Shutdown(ctx), "no stream open: Shutdown returns at once")
	require.NoError(t, ing.Close())
}
