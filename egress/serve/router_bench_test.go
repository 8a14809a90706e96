package serve

import (
	"context"
	"strconv"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/sluicelog/sluice/diode"
	"github.com/sluicelog/sluice/envelope"
	"github.com/sluicelog/sluice/internal/benchcpu"
)

// BenchmarkRouterPublish: 100,000 subscriptions with the empty shard ID,
// each selecting logs from source ID i%20000; publishing the wire bytes of
// 100 log envelopes (10-byte payload) from source IDs 0..99, cycling, so
// each publish reaches five subscriptions that discard what they get.
func BenchmarkRouterPublish(b *testing.B) {
	r, err := NewRouter(WithSubscriptionBuffer(func() diode.Buffer[[]byte] { return diode.Discard[[]byte]() }))
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	ctx := context.Background()
	for i := range 100_000 {
		req := &envelope.EgressBatchRequest{Selectors: []*envelope.Selector{{
			SourceId: strconv.Itoa(i % 20000),
			Message:  &envelope.Selector_Log{Log: &envelope.LogSelector{}},
		}}}
		if _, err := r.Subscribe(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
	envs := make([][]byte, 100)
	for i := range envs {
		envs[i], err = proto.Marshal(envelope.NewLog(strconv.Itoa(i), []byte("0123456789")))
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	defer benchcpu.Start(b)()
	i := 0
	for b.Loop() {
		if err := r.Publish(envs[i]); err != nil {
			b.Fatal(err)
		}
		i++
		if i == len(envs) {
			i = 0
		}
	}
	b.StopTimer()
	if st := r.Stats(); st.Egress != 5*st.Ingress {
		b.Fatalf("egress %d, want 5 x ingress %d", st.Egress, st.Ingress)
	}
}

// BenchmarkRouterRun is Run's work per envelope (one op is one envelope,
// so -benchtime Nx routes N envelopes): a ManyToOne ingress buffer filled
// with up to 10,000 log envelopes at a time (239 bytes, one source ID,
// the fill included) is routed to one subscription (a 1,000-envelope diode
// nobody reads). Run is given an ended context, so it routes what the
// buffer holds and returns.
func BenchmarkRouterRun(b *testing.B) {
	r, err := NewRouter()
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	if _, err := r.Subscribe(context.Background(), &envelope.EgressBatchRequest{ShardId: "A", Selectors: []*envelope.Selector{routerTestLogs("")}}); err != nil {
		b.Fatal(err)
	}
	env := routerTestMarshal(b, benchServerEnvelope())
	buf, err := diode.NewManyToOne[[]byte](10_000)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	b.ReportAllocs()
	b.ResetTimer()
	defer benchcpu.Start(b)()
	for done := 0; done < b.N; {
		n := min(10_000, b.N-done)
		for range n {
			buf.Set(env)
		}
		if err := r.Run(ctx, buf); err != context.Canceled {
			b.Fatal(err)
		}
		done += n
	}
	b.StopTimer()
	if st := r.Stats(); st.Egress != st.Ingress {
		b.Fatalf("egress %d, ingress %d", st.Egress, st.Ingress)
	}
}

// BenchmarkSubscriptionRead is what an Egress stream's batching pays per
// envelope to take envelopes out of its subscription: 100 published, then
// read one at a time (TryNext) or in bulk (TryNextN).
func BenchmarkSubscriptionRead(b *testing.B) {
	env := routerTestMarshal(b, benchServerEnvelope())
	for _, bulk := range []bool{false, true} {
		b.Run(map[bool]string{false: "one-by-one", true: "bulk"}[bulk], func(b *testing.B) {
			r, err := NewRouter()
			if err != nil {
				b.Fatal(err)
			}
			defer r.Close()
			sub, err := r.Subscribe(context.Background(), &envelope.EgressBatchRequest{ShardId: "A", Selectors: []*envelope.Selector{routerTestLogs("")}})
			if err != nil {
				b.Fatal(err)
			}
			rs := sub.(*routerSub)
			dst := make([][]byte, 0, 100)
			b.ReportAllocs()
			b.ResetTimer()
			for done := 0; done < b.N; done += 100 {
				b.StopTimer()
				for range 100 {
					_ = r.Publish(env)
				}
				b.StartTimer()
				dst = dst[:0]
				if bulk {
					dst = rs.TryNextN(dst, 100)
				} else {
					for len(dst) < 100 {
						v, ok := rs.TryNext()
						if !ok {
							break
						}
						dst = append(dst, v)
					}
				}
				if len(dst) != 100 {
					b.Fatalf("read %d of 100", len(dst))
				}
			}
		})
	}
}
