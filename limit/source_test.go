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
	// Layouts off SourceID's inline path: long lengths and tags, varints
	// of every length, fixed fields, groups, truncations.
	b := protowire.AppendTag(nil, 1, protowire.VarintType)
	b = protowire.AppendVarint(b, 1<<63)
	b = protowire.AppendTag(b, 2, protowire.BytesType)
	b = protowire.AppendBytes(b, make([]byte, 300))
	b = protowire.AppendTag(b, 100, protowire.Fixed64Type)
	b = protowire.AppendFixed64(b, 7)
	b = protowire.AppendTag(b, 3, protowire.Fixed32Type)
	b = protowire.AppendFixed32(b, 7)
	b = protowire.AppendTag(b, 6, protowire.StartGroupType)
	b = protowire.AppendTag(b, 6, protowire.EndGroupType)
	b = protowire.AppendTag(b, 2, protowire.BytesType)
	b = protowire.AppendBytes(b, make([]byte, 20_000))
	f.Add(b)
	f.Add(b[:len(b)-1])
	f.Add([]byte{0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0x12, 0x01, 'a'})
	f.Add([]byte{0x12, 0x01, 'a', 0x08, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01})
	f.Add([]byte{0x12, 0x81})
	f.Add([]byte{0x02, 0x00})
	f.Fuzz(func(t *testing.T, b []byte) {
		id := limit.SourceID(b)
		assert.Equal(t, refSourceID(b), id, "the general reader's answer")
		var e envelope.Envelope
		if proto.Unmarshal(b, &e) == nil {
			if _, err := envelope.ReadRoute(b); err == nil {
				assert.Equal(t, e.GetSourceId(), id)
			}
		}
	})
}

// refSourceID is SourceID written plainly with protowire: the last field 2
// of bytes, or "" when the bytes are not a sequence of valid fields.
func refSourceID(b []byte) string {
	var id []byte
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return ""
		}
		b = b[n:]
		if num == 2 && typ == protowire.BytesType {
			if id, n = protowire.ConsumeBytes(b); n < 0 {
				return ""
			}
		} else if n = protowire.ConsumeFieldValue(num, typ, b); n < 0 {
			return ""
		}
		b = b[n:]
	}
	return string(id)
}
