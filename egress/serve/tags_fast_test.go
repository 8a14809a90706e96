package serve

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/sluicelog/sluice/envelope"
)

// randomTagEnvelope returns the wire bytes of an envelope with a random
// kind, random tags and deprecated tags (none, a few, long ones whose
// lengths take two bytes, numbers, empty Values), and sometimes unknown
// fields or a map entry in a form marshalers do not write.
func randomTagEnvelope(rng *rand.Rand) []byte {
	str := func(max int) string { return strings.Repeat(string(rune('a'+rng.IntN(26))), rng.IntN(max+1)) }
	e := &envelope.Envelope{Timestamp: rng.Int64(), SourceId: str(40), InstanceId: str(3)}
	switch rng.IntN(4) {
	case 0:
		e.Message = &envelope.Envelope_Log{Log: &envelope.Log{Payload: []byte(str(300))}}
	case 1:
		e.Message = &envelope.Envelope_Counter{Counter: &envelope.Counter{Name: str(10), Total: rng.Uint64()}}
	case 2:
		e.Message = &envelope.Envelope_Gauge{Gauge: &envelope.Gauge{Metrics: map[string]*envelope.GaugeValue{str(5): {Unit: "b", Value: rng.Float64()}}}}
	}
	lengths := []int{3, 10, 60, 130}
	if rng.IntN(3) > 0 {
		e.Tags = map[string]string{}
		for range rng.IntN(5) {
			e.Tags[str(lengths[rng.IntN(len(lengths))])] = str(lengths[rng.IntN(len(lengths))])
		}
	}
	if rng.IntN(3) == 0 {
		e.DeprecatedTags = map[string]*envelope.Value{}
		for range rng.IntN(4) {
			v := []*envelope.Value{text(str(20)), integer(rng.Int64()), decimal(rng.Float64()), {}}[rng.IntN(4)]
			e.DeprecatedTags[str(8)] = v
		}
	}
	b, err := proto.Marshal(e)
	if err != nil {
		panic(err)
	}
	switch rng.IntN(8) {
	case 0: // an unknown field at the end
		b = protowire.AppendTag(b, 15, protowire.BytesType)
		b = protowire.AppendBytes(b, []byte(str(5)))
	case 1: // a tags entry with the value first
		entry := appendField(appendField(nil, entryValue, []byte(str(4))), entryKey, []byte(str(4)))
		b = appendField(b, fieldTags, entry)
	case 2: // a field number over 15: a tag of two bytes
		b = protowire.AppendTag(b, 16, protowire.VarintType)
		b = protowire.AppendVarint(b, rng.Uint64())
	}
	return b
}

// appendConverged writes what converge returns, after what dst holds, for
// any envelope and both settings, taking the fast path or not.
func TestAppendConvergedEqualsConverge(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 15))
	var r, want tagRewriter
	prefix := []byte("prefix")
	fast := 0
	for i := range 3000 {
		b := randomTagEnvelope(rng)
		orig := bytes.Clone(b)
		for _, preferred := range []bool{false, true} {
			want.reset()
			exp := append(bytes.Clone(prefix), want.converge(b, preferred)...)
			got := r.appendConverged(bytes.Clone(prefix), b, preferred)
			require.Equal(t, exp, got, "envelope %d preferred=%v: % x", i, preferred, b)
			if _, ok := r.appendConvergedFast(nil, b, preferred); ok {
				fast++
			}
		}
		require.Equal(t, orig, b, "the input is not changed")
	}
	t.Logf("%d of 6000 took the fast path", fast)
	assert.Greater(t, fast, 2000, "the fast path is taken for the common shapes")
	assert.Less(t, fast, 5500, "the general path is exercised too")
}

// The envelopes a router sends most take the fast path: routerbench's
// (tags to deprecated_tags), and any envelope without deprecated tags with
// preferred set.
func TestAppendConvergedFastTakesCommonEnvelopes(t *testing.T) {
	var r tagRewriter
	b := routerTestMarshal(t, benchSendEnvelope())
	for _, preferred := range []bool{false, true} {
		got, ok := r.appendConvergedFast(nil, b, preferred)
		require.True(t, ok, "preferred=%v", preferred)
		assert.Equal(t, convergeTags(b, preferred), got)
	}
	assert.Len(t, convergeTags(b, false), len(b)+6, "three tags, two bytes more each")
}

func TestVarintEnd(t *testing.T) {
	for _, v := range []uint64{0, 1, 127, 128, 1 << 20, 1 << 48, 1 << 55, 1 << 56, 1 << 62, 1<<63 - 1} {
		b := protowire.AppendVarint(nil, v)
		for _, tail := range [][]byte{nil, make([]byte, 12)} {
			want := len(b)
			assert.Equal(t, want, varintEnd(append(bytes.Clone(b), tail...)), "%d, %d bytes after", v, len(tail))
		}
	}
	// Ten bytes (left to protowire), and no end.
	assert.Equal(t, -1, varintEnd(protowire.AppendVarint(nil, 1<<63)))
	assert.Equal(t, -1, varintEnd(bytes.Repeat([]byte{0x80}, 12)))
	assert.Equal(t, -1, varintEnd([]byte{0x80, 0x80}))
	assert.Equal(t, -1, varintEnd(nil))
}

// FuzzAppendConverged: for any bytes, appendConverged writes what converge
// returns (which FuzzConvergeTags checks against Loggregator's rule).
func FuzzAppendConverged(f *testing.F) {
	rng := rand.New(rand.NewPCG(1, 2))
	for range 20 {
		b := randomTagEnvelope(rng)
		f.Add(b, false)
		f.Add(b, true)
	}
	f.Add(routerTestMarshal(f, benchSendEnvelope()), false)
	f.Fuzz(func(t *testing.T, b []byte, preferred bool) {
		var r, want tagRewriter
		orig := bytes.Clone(b)
		exp := want.converge(b, preferred)
		got := r.appendConverged([]byte{1}, b, preferred)
		if !bytes.Equal(append([]byte{1}, exp...), got) {
			t.Fatalf("preferred=%v\n in % x\nwant % x\ngot  % x", preferred, b, exp, got[1:])
		}
		if !bytes.Equal(orig, b) {
			t.Fatal(fmt.Sprintf("input changed: % x", b))
		}
	})
}
