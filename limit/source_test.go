package limit_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/sluicelog/sluice/envelope"
	"github.com/sluicelog/sluice/limit"
)

func TestSourceID(t *testing.T) {
	long := string(make([]byte, 300))
	for _, e := range []*envelope.Envelope{
		envelope.NewLog("app", []byte("x")),
		envelope.NewLog("", []byte("x")),
		envelope.NewCounter("9f1c2b7e-6a41-4d3e-8c55-0b7a2e19d4f3", "requests", 1, envelope.WithTag("a", "b")),
		envelope.NewGauge(long, []envelope.Metric{{Name: "cpu", Value: 1, Unit: "%"}}),
		envelope.NewEvent("ev", "title", "body", envelope.WithInstanceID("3")),
	} {
		b, err := proto.Marshal(e)
		require.NoError(t, err)
		assert.Equal(t, e.GetSourceId(), limit.SourceID(b))
	}
	// The last source_id wins, as in protobuf.
	b := protowire.AppendTag(nil, 2, protowire.BytesType)
	b = protowire.AppendString(b, "first")
	b = protowire.AppendTag(b, 1, protowire.VarintType)
	b = protowire.AppendVarint(b, 1<<40)
	b = protowire.AppendTag(b, 2, protowire.BytesType)
	b = protowire.AppendString(b, "second")
	assert.Equal(t, "second", limit.SourceID(b))
	assert.Equal(t, "", limit.SourceID([]byte{0x12, 0x05, 'a'}), "a length past the end")
	assert.Equal(t, "", limit.SourceID([]byte{0xff}))
}

// FuzzSourceID checks SourceID against protobuf on every input that
// unmarshals as an Envelope, and that it never panics on the rest.
func FuzzSourceID(f *testing.F) {
	for _, e := range []*envelope.Envelope{
		envelope.NewLog("app", []byte("x"), envelope.WithTag("k", "v")),
		envelope.NewCounter("c", "n", 1),
	} {
		b, _ := proto.Marshal(e)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		id := limit.SourceID(b)
		var e envelope.Envelope
		if proto.Unmarshal(b, &e) == nil {
			if _, err := envelope.ReadRoute(b); err == nil {
				assert.Equal(t, e.GetSourceId(), id)
			}
		}
	})
}
