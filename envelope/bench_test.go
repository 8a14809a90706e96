package envelope_test

import (
	"bytes"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/sluicelog/sluice/envelope"
)

// benchEnvelope is the envelope the issues measure with: a log with a
// 100-byte payload, a 36-character source ID and three tags.
func benchEnvelope() *envelope.Envelope {
	return envelope.NewLog("9f1c2b7e-6a41-4d3e-8c55-0b7a2e19d4f3", bytes.Repeat([]byte("x"), 100),
		envelope.WithInstanceID("0"),
		envelope.WithTag("deployment", "cf"),
		envelope.WithTag("job", "diego-cell"),
		envelope.WithTag("index", "5d3e1f2a"),
	)
}

func BenchmarkRoutingRead(b *testing.B) {
	buf := marshal(b, benchEnvelope())
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		r, err := envelope.ReadRoute(buf)
		if err != nil || len(r.SourceID) != 36 {
			b.Fatal("bad read")
		}
	}
}

// BenchmarkRoutingReadTrusted is the read a router's publish makes of an
// envelope its ingress validated.
func BenchmarkRoutingReadTrusted(b *testing.B) {
	buf := marshal(b, benchEnvelope())
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		r, err := envelope.ReadRouteTrusted(buf)
		if err != nil || len(r.SourceID) != 36 {
			b.Fatal("bad read")
		}
	}
}

func BenchmarkUnmarshal(b *testing.B) {
	buf := marshal(b, benchEnvelope())
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		var e envelope.Envelope
		if err := proto.Unmarshal(buf, &e); err != nil || len(e.SourceId) != 36 {
			b.Fatal("bad unmarshal")
		}
	}
}
