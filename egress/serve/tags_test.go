package serve

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/sluicelog/sluice/envelope"
	"github.com/sluicelog/sluice/internal/benchcpu"
)

// loggregatorConverge is the model: Loggregator's reverse log proxy's rule
// for use_preferred_tags, on the decoded envelope.
func loggregatorConverge(e *envelope.Envelope, preferred bool) {
	if preferred {
		if e.Tags == nil {
			e.Tags = map[string]string{}
		}
		for k, v := range e.GetDeprecatedTags() {
			switch d := v.GetData().(type) {
			case *envelope.Value_Text:
				e.Tags[k] = d.Text
			case *envelope.Value_Integer:
				e.Tags[k] = fmt.Sprint(d.Integer)
			case *envelope.Value_Decimal:
				e.Tags[k] = fmt.Sprint(d.Decimal)
			}
		}
		e.DeprecatedTags = nil
		return
	}
	if e.DeprecatedTags == nil {
		e.DeprecatedTags = map[string]*envelope.Value{}
	}
	for k, v := range e.GetTags() {
		e.DeprecatedTags[k] = &envelope.Value{Data: &envelope.Value_Text{Text: v}}
	}
	e.Tags = nil
}

func text(s string) *envelope.Value { return &envelope.Value{Data: &envelope.Value_Text{Text: s}} }
func integer(i int64) *envelope.Value {
	return &envelope.Value{Data: &envelope.Value_Integer{Integer: i}}
}
func decimal(f float64) *envelope.Value {
	return &envelope.Value{Data: &envelope.Value_Decimal{Decimal: f}}
}

func tagEnvelopes() map[string]*envelope.Envelope {
	logOf := func() *envelope.Envelope {
		return &envelope.Envelope{Timestamp: 7, SourceId: "app", InstanceId: "2",
			Message: &envelope.Envelope_Log{Log: &envelope.Log{Payload: []byte("hi"), Type: envelope.Log_ERR}}}
	}
	none := logOf()
	tagsOnly := logOf()
	tagsOnly.Tags = map[string]string{"deployment": "cf", "job": "router", "empty": ""}
	deprOnly := logOf()
	deprOnly.DeprecatedTags = map[string]*envelope.Value{"a": text("x"), "n": integer(-42), "d": decimal(0.25), "big": decimal(1e21), "void": {}}
	both := logOf()
	both.Tags = map[string]string{"same": "from-tags", "t": "1"}
	both.DeprecatedTags = map[string]*envelope.Value{"same": integer(9), "dep": text("y")}
	gauge := &envelope.Envelope{SourceId: "s", Tags: map[string]string{"k": "v"},
		Message: &envelope.Envelope_Gauge{Gauge: &envelope.Gauge{Metrics: map[string]*envelope.GaugeValue{"cpu": {Unit: "%", Value: 1.5}}}}}
	return map[string]*envelope.Envelope{"none": none, "tags only": tagsOnly, "deprecated only": deprOnly, "both": both, "gauge": gauge}
}

// The rewrite on wire bytes gives what Loggregator's rule gives on the
// struct, for both settings, and hands back the input itself when nothing
// moves.
func TestConvergeTagsMatchesLoggregator(t *testing.T) {
	for name, e := range tagEnvelopes() {
		for _, preferred := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/preferred=%v", name, preferred), func(t *testing.T) {
				in, err := proto.Marshal(e)
				require.NoError(t, err)
				orig := append([]byte(nil), in...)
				got := convergeTags(in, preferred)
				assert.Equal(t, orig, in, "the input bytes are not changed")

				want := proto.Clone(e).(*envelope.Envelope)
				loggregatorConverge(want, preferred)
				var dec envelope.Envelope
				require.NoError(t, proto.Unmarshal(got, &dec))
				assert.True(t, proto.Equal(want, &dec), "want %v\ngot  %v", want, &dec)

				nothingToMove := (preferred && len(e.GetDeprecatedTags()) == 0) || (!preferred && len(e.GetTags()) == 0)
				if nothingToMove {
					assert.Equal(t, &in[0], &got[0], "passed through without a copy")
				}
			})
		}
	}
}

// A tagRewriter's envelopes of one batch stay intact while later ones are
// appended (its buffer grows several times over 100 envelopes), and equal
// what convergeTags gives; after reset it reuses its storage.
func TestTagRewriterKeepsABatch(t *testing.T) {
	es := tagEnvelopes()
	var ins [][]byte
	for i := range 100 {
		e := proto.Clone(es["tags only"]).(*envelope.Envelope)
		e.Tags["i"] = fmt.Sprint(i)
		b, err := proto.Marshal(e)
		require.NoError(t, err)
		ins = append(ins, b)
	}
	var r tagRewriter
	for round := range 2 {
		r.reset()
		outs := make([][]byte, len(ins))
		for i, in := range ins {
			outs[i] = r.converge(in, false)
		}
		for i, in := range ins {
			require.Equal(t, convergeTags(in, false), outs[i], "round %d envelope %d", round, i)
		}
	}
	allocs := testing.AllocsPerRun(10, func() {
		r.reset()
		for _, in := range ins {
			r.converge(in, false)
		}
	})
	assert.Equal(t, 0.0, allocs)
}

// Loggregator prints numbers as fmt.Sprint does.
func TestConvergeTagsNumbers(t *testing.T) {
	e := &envelope.Envelope{DeprecatedTags: map[string]*envelope.Value{"i": integer(-42), "d": decimal(0.25), "e": decimal(1e21), "void": {}}}
	in, err := proto.Marshal(e)
	require.NoError(t, err)
	var dec envelope.Envelope
	require.NoError(t, proto.Unmarshal(convergeTags(in, true), &dec))
	assert.Equal(t, map[string]string{"i": "-42", "d": "0.25", "e": "1e+21"}, dec.GetTags())
	assert.Empty(t, dec.GetDeprecatedTags())
}

func TestConvergeTagsMalformed(t *testing.T) {
	for _, b := range [][]byte{{0x4a, 0x05, 0x0a}, {0xff}, {0x4a, 0x02, 0x0a, 0x09}} {
		assert.Equal(t, b, convergeTags(b, false))
		assert.Equal(t, b, convergeTags(b, true))
	}
}

func FuzzConvergeTags(f *testing.F) {
	for _, e := range tagEnvelopes() {
		b, err := proto.Marshal(e)
		require.NoError(f, err)
		f.Add(b, true)
		f.Add(b, false)
	}
	f.Fuzz(func(t *testing.T, b []byte, preferred bool) {
		var e envelope.Envelope
		if proto.Unmarshal(b, &e) != nil {
			convergeTags(b, preferred) // must not panic
			return
		}
		got := convergeTags(b, preferred)
		var dec envelope.Envelope
		require.NoError(t, proto.Unmarshal(got, &dec))
		loggregatorConverge(&e, preferred)
		if !proto.Equal(&e, &dec) {
			t.Fatalf("want %v\ngot  %v", &e, &dec)
		}
	})
}

// BenchmarkConvergeTags: the cost on the way out, per envelope, when nothing
// moves (the pass-through scan) and when tags move.
func BenchmarkConvergeTags(b *testing.B) {
	es := tagEnvelopes()
	for _, c := range []struct {
		name      string
		env       string
		preferred bool
	}{
		{"passthrough/preferred", "tags only", true},
		{"passthrough/deprecated", "deprecated only", false},
		{"rewrite/tags-to-deprecated", "tags only", false},
		{"rewrite/deprecated-to-tags", "both", true},
	} {
		in, err := proto.Marshal(es[c.env])
		require.NoError(b, err)
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			defer benchcpu.Start(b)()
			for b.Loop() {
				convergeTags(in, c.preferred)
			}
		})
	}
	// What a Server does: a batch of 100 rewritten into reused storage.
	in, err := proto.Marshal(es["tags only"])
	require.NoError(b, err)
	b.Run("rewrite-reused/tags-to-deprecated", func(b *testing.B) {
		b.ReportAllocs()
		defer benchcpu.Start(b)()
		var r tagRewriter
		for i := 0; b.Loop(); i++ {
			if i%100 == 0 {
				r.reset()
			}
			r.converge(in, false)
		}
	})
	in, err = proto.Marshal(es["both"])
	require.NoError(b, err)
	b.Run("decode-convert-encode", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var e envelope.Envelope
			_ = proto.Unmarshal(in, &e)
			loggregatorConverge(&e, true)
			_, _ = proto.Marshal(&e)
		}
	})
}

// A Server applies each subscriber's use_preferred_tags on the way out,
// Receiver and BatchedReceiver alike; WithTagsUnchanged passes tags as they
// came.
func TestServerConvergesTags(t *testing.T) {
	e := tagEnvelopes()["both"]
	for _, tt := range []struct {
		name      string
		opts      []ServerOption
		preferred bool
		converge  bool
	}{
		{"preferred", nil, true, true},
		{"deprecated", nil, false, true},
		{"unchanged", []ServerOption{WithTagsUnchanged()}, false, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := routerTestNew(t)
			_, cc := serverTestStart(t, r, tt.opts...)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			sels := []*envelope.Selector{routerTestLogs("app")}
			batched, err := envelope.NewEgressClient(cc).BatchedReceiver(ctx, &envelope.EgressBatchRequest{Selectors: sels, UsePreferredTags: tt.preferred})
			require.NoError(t, err)
			one, err := envelope.NewEgressClient(cc).Receiver(ctx, &envelope.EgressRequest{Selectors: sels, UsePreferredTags: tt.preferred})
			require.NoError(t, err)
			serverTestWaitSubs(t, r, 2)
			require.NoError(t, r.PublishEnvelope(e))

			want := proto.Clone(e).(*envelope.Envelope)
			if tt.converge {
				loggregatorConverge(want, tt.preferred)
			}
			b, err := batched.Recv()
			require.NoError(t, err)
			require.Len(t, b.GetBatch(), 1)
			assert.True(t, proto.Equal(want, b.GetBatch()[0]), "batched: %v", b.GetBatch()[0])
			got, err := one.Recv()
			require.NoError(t, err)
			assert.True(t, proto.Equal(want, got), "receiver: %v", got)
		})
	}
}
