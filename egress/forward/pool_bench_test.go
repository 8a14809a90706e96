package forward

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sluicelog/sluice/diode"
	"github.com/sluicelog/sluice/discovery"
	"github.com/sluicelog/sluice/internal/testtls"
)

// BenchmarkPool measures a Forwarder and a Pool (5 streams, mutual TLS)
// into a discarding router stand-in over loopback, in both modes. The
// writer keeps the diode from overflowing, so env/s is the rate at which
// envelopes were delivered without loss.
func BenchmarkPool(b *testing.B) {
	for _, mode := range poolModes {
		b.Run(mode.String(), func(b *testing.B) {
			_, serverTLS, clientTLS := testtls.Must(b)
			r := poolStartRouter(b, "", serverTLS, false)
			buf, err := diode.NewOneToOne[[]byte](10000)
			require.NoError(b, err)
			pool, err := NewPool(discovery.NewStatic(r.endpoint()), WithTLS(clientTLS), WithMode(mode))
			require.NoError(b, err)
			fwd, err := NewForwarder(buf, pool)
			require.NoError(b, err)
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- fwd.Run(ctx) }()
			deadline := time.Now().Add(20 * time.Second)
			for pool.Stats().Streams < 5 && time.Now().Before(deadline) {
				time.Sleep(time.Millisecond)
			}
			env := poolTestEnvelope(b, 1)
			base := r.Count()

			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			for i := range b.N {
				if i%64 == 0 {
					for {
						s := buf.Stats()
						if s.Written-s.Read-s.Dropped < 8000 {
							break
						}
						runtime.Gosched()
					}
				}
				buf.Set(env)
			}
			cancel()
			require.NoError(b, <-done)
			sctx, scancel := context.WithTimeout(context.Background(), 20*time.Second)
			require.NoError(b, pool.Shutdown(sctx))
			scancel()
			elapsed := time.Since(start)
			b.StopTimer()

			delivered := r.Count() - base
			b.ReportMetric(float64(delivered)/elapsed.Seconds(), "env/s")
			st := fwd.Stats()
			b.ReportMetric(float64(st.Dropped.Total()+buf.Stats().Dropped), "dropped")
		})
	}
}
