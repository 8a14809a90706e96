package drain_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/sluicelog/sluice/drain"
	"github.com/sluicelog/sluice/drain/draintest"
	"github.com/sluicelog/sluice/envelope"
	"github.com/sluicelog/sluice/internal/testtls"
)

// BenchmarkDrainTLS measures one drain's throughput over loopback TLS:
// Publish of wire bytes to a parsed, counted message at the receiver.
// Each operation is one envelope; the benchmark waits until every
// envelope sent has arrived.
func BenchmarkDrainTLS(b *testing.B) {
	_, serverTLS, clientTLS := testtls.Must(b)
	srv := draintest.NewServer(serverTLS)
	require.NoError(b, srv.Start("127.0.0.1:0"))
	defer srv.Kill()
	m, err := drain.NewManager(drain.WithTLSConfig(clientTLS), drain.WithBufferSize(1<<16))
	require.NoError(b, err)
	defer m.Close()
	require.NoError(b, m.SetBindings([]drain.Binding{{SourceID: "app", URL: srv.URL()}}))
	env, err := proto.Marshal(envelope.NewLog("app", []byte("GET /checkout 200 12ms"), envelope.WithInstanceID("3"),
		envelope.WithTags(map[string]string{"source_type": "APP/PROC/WEB", "app_name": "shop", "space_name": "prod", "organization_name": "acme"})))
	require.NoError(b, err)
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for i := 0; b.Loop(); i++ {
		require.NoError(b, m.Publish(env))
		if i%4096 == 4095 { // keep within the buffer: the benchmark measures delivery, not drops
			for st := m.Stats().Drains["app "+srv.URL()]; st.Written > st.Sent+st.Dropped.Total()+8192; st = m.Stats().Drains["app "+srv.URL()] {
				time.Sleep(100 * time.Microsecond)
			}
		}
	}
	require.NoError(b, m.Shutdown(b.Context()))
	st := m.Stats().Drains["app "+srv.URL()]
	require.NoError(b, srv.Wait(b.Context(), int(st.Sent)))
	b.ReportMetric(float64(st.Sent)/time.Since(start).Seconds(), "envelopes/s")
	b.ReportMetric(float64(st.Dropped.Total()), "dropped")
}
