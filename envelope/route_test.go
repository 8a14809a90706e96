package envelope_test

import (
	"hash/fnv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/sluicelog/sluice/envelope"
)

func marshal(t testing.TB, e *envelope.Envelope) []byte {
	t.Helper()
	b, err := proto.Marshal(e)
	require.NoError(t, err)
	return b
}

func TestReadRouteKinds(t *testing.T) {
	now := time.Unix(100, 0)
	tests := []struct {
		name      string
		env       *envelope.Envelope
		kind      envelope.Kind
		metric    string
		gauge     []string
		hashKnown bool
	}{
		{"log", envelope.NewLog("app-1", []byte("hi"), envelope.WithTag("a", "b")), envelope.KindLog, "", nil, false},
		{"counter", envelope.NewCounter("app-2", "requests", 3, envelope.WithTotal(9)), envelope.KindCounter, "requests", nil, true},
		{"gauge", envelope.NewGauge("app-3", []envelope.Metric{{Name: "cpu", Value: 1}, {Name: "mem", Value: 2, Unit: "B"}}), envelope.KindGauge, "", []string{"cpu", "mem"}, true},
		{"timer", envelope.NewTimer("app-4", "http", now, now.Add(time.Second)), envelope.KindTimer, "http", nil, true},
		{"event", envelope.NewEvent("app-5", "deploy", "v2"), envelope.KindEvent, "", nil, false},
		{"empty", &envelope.Envelope{}, envelope.KindUnknown, "", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := envelope.ReadRoute(marshal(t, tt.env))
			require.NoError(t, err)
			assert.Equal(t, tt.env.GetSourceId(), r.SourceID)
			assert.Equal(t, tt.kind, r.Kind)
			assert.Equal(t, tt.env.Kind(), r.Kind)
			assert.Equal(t, tt.metric, r.Name)
			assert.ElementsMatch(t, tt.gauge, r.GaugeNames(nil))
			_, ok := r.NameHash()
			assert.Equal(t, tt.hashKnown, ok)
		})
	}
}

func TestNameHashIsOrderIndependentAndStable(t *testing.T) {
	a := []byte{}
	b := []byte{}
	entry := func(name string) []byte {
		var e []byte
		e = protowire.AppendTag(e, 1, protowire.BytesType)
		e = protowire.AppendString(e, name)
		return e
	}
	gauge := func(names ...string) []byte {
		var g []byte
		for _, n := range names {
			g = protowire.AppendTag(g, 1, protowire.BytesType)
			g = protowire.AppendBytes(g, entry(n))
		}
		var env []byte
		env = protowire.AppendTag(env, 6, protowire.BytesType)
		return protowire.AppendBytes(env, g)
	}
	a = gauge("cpu", "mem")
	b = gauge("mem", "cpu", "mem") // order and a duplicate key differ
	ra, err := envelope.ReadRoute(a)
	require.NoError(t, err)
	rb, err := envelope.ReadRoute(b)
	require.NoError(t, err)
	ha, _ := ra.NameHash()
	hb, _ := rb.NameHash()
	assert.Equal(t, ha, hb)
	assert.Equal(t, []string{"mem", "cpu"}, rb.GaugeNames(nil))

	rc, err := envelope.ReadRoute(gauge("cpu"))
	require.NoError(t, err)
	hc, _ := rc.NameHash()
	assert.NotEqual(t, ha, hc)

	// FNV-1a of the name: the same in every process, so every router puts a
	// metric on the same member index.
	r, err := envelope.ReadRoute(marshal(t, envelope.NewCounter("s", "requests", 1)))
	require.NoError(t, err)
	h, _ := r.NameHash()
	want := fnv.New64a()
	want.Write([]byte("requests"))
	assert.Equal(t, want.Sum64(), h)
}

func TestReadRouteMergesLikeProtobuf(t *testing.T) {
	counter := func(name string) []byte {
		var c []byte
		if name != "" {
			c = protowire.AppendTag(c, 1, protowire.BytesType)
			c = protowire.AppendString(c, name)
		}
		c = protowire.AppendTag(c, 2, protowire.VarintType)
		c = protowire.AppendVarint(c, 1)
		var e []byte
		e = protowire.AppendTag(e, 5, protowire.BytesType)
		return protowire.AppendBytes(e, c)
	}
	logField := protowire.AppendBytes(protowire.AppendTag(nil, 4, protowire.BytesType), nil)
	src := func(s string) []byte {
		return protowire.AppendString(protowire.AppendTag(nil, 2, protowire.BytesType), s)
	}
	cases := map[string][]byte{
		"counter name kept across a merge": concat(counter("a"), counter("")),
		"later counter name wins":          concat(counter("a"), src("x"), counter("b")),
		"another member clears the name":   concat(counter("a"), logField, counter("")),
		"last member wins":                 concat(counter("a"), logField),
		"last source id wins":              concat(src("one"), counter("c"), src("two")),
	}
	for name, b := range cases {
		t.Run(name, func(t *testing.T) {
			var e envelope.Envelope
			require.NoError(t, proto.Unmarshal(b, &e))
			r, err := envelope.ReadRoute(b)
			require.NoError(t, err)
			assert.Equal(t, e.GetSourceId(), r.SourceID)
			assert.Equal(t, e.Kind(), r.Kind)
			assert.Equal(t, e.GetCounter().GetName(), r.Name)
		})
	}
}

func concat(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func TestReadRouteRejectsMalformed(t *testing.T) {
	good := marshal(t, envelope.NewLog("app", []byte("x"), envelope.WithTag("k", "v")))
	badUTF8Tag := marshal(t, &envelope.Envelope{Tags: map[string]string{"k": "v"}})
	badUTF8Tag[len(badUTF8Tag)-1] = 0xff
	cases := map[string][]byte{
		"truncated":              good[:len(good)-1],
		"field number zero":      {0x00, 0x01},
		"bad wire type":          {0x0f},
		"varint overflow":        {0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02},
		"length past end":        {0x12, 0x05, 'a'},
		"source id not utf8":     {0x12, 0x01, 0xff},
		"tag value not utf8":     badUTF8Tag,
		"stray end group":        {0x0c},
		"unterminated group":     {0x5b, 0x08, 0x01},
		"field number too large": protowire.AppendTag(nil, protowire.MaxValidNumber+1, protowire.VarintType),
		"garbage":                []byte(strings.Repeat("\xff", 12)),
	}
	for name, b := range cases {
		t.Run(name, func(t *testing.T) {
			var e envelope.Envelope
			require.Error(t, proto.Unmarshal(b, &e), "the case must be invalid for protobuf too")
			_, err := envelope.ReadRoute(b)
			require.ErrorIs(t, err, envelope.ErrMalformed)
		})
	}
}

func TestReadRouteDoesNotAllocate(t *testing.T) {
	b := marshal(t, benchEnvelope())
	g := marshal(t, envelope.NewGauge("s", []envelope.Metric{{Name: "cpu"}, {Name: "mem"}}))
	sel := &envelope.Selector{Message: &envelope.Selector_Gauge{Gauge: &envelope.GaugeSelector{Names: []string{"mem"}}}}
	allocs := testing.AllocsPerRun(1000, func() {
		r, err := envelope.ReadRoute(b)
		if err != nil || r.Kind != envelope.KindLog {
			t.Fatal("bad read")
		}
		r, err = envelope.ReadRoute(g)
		if err != nil || !sel.MatchesRoute(&r) {
			t.Fatal("bad gauge read")
		}
		if _, ok := r.NameHash(); !ok {
			t.Fatal("no hash")
		}
	})
	assert.Equal(t, 0.0, allocs)
}

func TestBatchSplitAppendRoundTrip(t *testing.T) {
	envs := []*envelope.Envelope{
		envelope.NewLog("a", []byte("1")),
		envelope.NewCounter("b", "c", 2),
		envelope.NewEvent("c", "t", "b"),
	}
	batch, err := proto.Marshal(&envelope.Batch{Batch: envs})
	require.NoError(t, err)
	parts, err := envelope.SplitBatch(batch, nil)
	require.NoError(t, err)
	require.Len(t, parts, 3)
	require.NoError(t, envelope.CheckBatch(batch))
	for i, p := range parts {
		var e envelope.Envelope
		require.NoError(t, proto.Unmarshal(p, &e))
		assert.True(t, proto.Equal(envs[i], &e))
	}
	again := envelope.AppendBatch(nil, parts)
	assert.Equal(t, batch, again)
	assert.Equal(t, len(batch), envelope.BatchSize(parts))

	_, err = envelope.SplitBatch(batch[:len(batch)-1], nil)
	assert.ErrorIs(t, err, envelope.ErrMalformed)
	bad := envelope.AppendBatch(nil, [][]byte{parts[0], {0x12, 0x01, 0xff}})
	err = envelope.CheckBatch(bad)
	assert.ErrorIs(t, err, envelope.ErrMalformed)
	assert.Contains(t, err.Error(), "envelope 1 of batch")
}
