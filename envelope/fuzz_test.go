package envelope_test

import (
	"slices"
	"sort"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/sluicelog/sluice/envelope"
)

// Seed corpora live in testdata/fuzz; these add the typical shapes too.
func fuzzSeeds(f *testing.F) {
	now := time.Unix(1700000000, 0)
	for _, e := range []*envelope.Envelope{
		benchEnvelope(),
		envelope.NewCounter("c", "requests", 1, envelope.WithTotal(5)),
		envelope.NewGauge("g", []envelope.Metric{{Name: "cpu", Value: 1, Unit: "%"}, {Name: "mem", Value: 2}}),
		envelope.NewTimer("t", "http", now, now.Add(time.Millisecond)),
		envelope.NewEvent("e", "title", "body"),
		{SourceId: "d", DeprecatedTags: map[string]*envelope.Value{
			"a": {Data: &envelope.Value_Text{Text: "x"}},
			"b": {Data: &envelope.Value_Integer{Integer: 3}},
			"c": {Data: &envelope.Value_Decimal{Decimal: 1.5}},
		}},
	} {
		b, err := proto.Marshal(e)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}

// FuzzEnvelopeRoundTrip: unmarshal, marshal, unmarshal, and compare.
func FuzzEnvelopeRoundTrip(f *testing.F) {
	fuzzSeeds(f)
	det := proto.MarshalOptions{Deterministic: true}
	f.Fuzz(func(t *testing.T, b []byte) {
		var e1 envelope.Envelope
		if err := proto.Unmarshal(b, &e1); err != nil {
			return
		}
		b2, err := det.Marshal(&e1)
		if err != nil {
			t.Fatalf("marshal after unmarshal: %v", err)
		}
		var e2 envelope.Envelope
		if err := proto.Unmarshal(b2, &e2); err != nil {
			t.Fatalf("unmarshal of our own marshal: %v", err)
		}
		if !proto.Equal(&e1, &e2) {
			t.Fatalf("round trip changed the envelope:\n%v\n%v", &e1, &e2)
		}
		b3, err := det.Marshal(&e2)
		if err != nil {
			t.Fatal(err)
		}
		if string(b2) != string(b3) {
			t.Fatalf("marshal is not stable: %x vs %x", b2, b3)
		}
	})
}

// FuzzRoutingRead: the wire read agrees with a full unmarshal on every input
// that unmarshals, and returns an error (never a panic) on the rest.
func FuzzRoutingRead(f *testing.F) {
	fuzzSeeds(f)
	sels := []*envelope.Selector{
		{Message: &envelope.Selector_Log{Log: &envelope.LogSelector{}}},
		{SourceId: "c", Message: &envelope.Selector_Counter{Counter: &envelope.CounterSelector{Name: "requests"}}},
		{Message: &envelope.Selector_Gauge{Gauge: &envelope.GaugeSelector{Names: []string{"cpu", "mem"}}}},
		{Message: &envelope.Selector_Gauge{Gauge: &envelope.GaugeSelector{Names: []string{""}}}},
		{Message: &envelope.Selector_Timer{Timer: &envelope.TimerSelector{}}},
		{Message: &envelope.Selector_Event{Event: &envelope.EventSelector{}}},
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r, rerr := envelope.ReadRoute(b)
		tr, terr := envelope.ReadRouteTrusted(b) // never panics, whatever b is
		var e envelope.Envelope
		uerr := proto.Unmarshal(b, &e)
		if uerr != nil {
			if rerr == nil {
				t.Fatalf("proto.Unmarshal failed (%v) but ReadRoute accepted %x", uerr, b)
			}
			return
		}
		if rerr != nil {
			t.Fatalf("ReadRoute failed (%v) on bytes proto.Unmarshal accepts: %x", rerr, b)
		}
		// On what ReadRoute accepts, the trusted read gives the same route.
		th, tok := tr.NameHash()
		rh, rok := r.NameHash()
		if terr != nil || tr.SourceID != r.SourceID || tr.Kind != r.Kind || tr.Name != r.Name || th != rh || tok != rok ||
			!slices.Equal(tr.GaugeNames(nil), r.GaugeNames(nil)) {
			t.Fatalf("ReadRouteTrusted (%v) disagrees with ReadRoute on %x", terr, b)
		}
		if r.SourceID != e.GetSourceId() || r.Kind != e.Kind() {
			t.Fatalf("route (%q, %v) != envelope (%q, %v)", r.SourceID, r.Kind, e.GetSourceId(), e.Kind())
		}
		wantName := e.GetCounter().GetName()
		if e.Kind() == envelope.KindTimer {
			wantName = e.GetTimer().GetName()
		}
		if r.Name != wantName {
			t.Fatalf("name %q, want %q", r.Name, wantName)
		}
		var want []string
		for k := range e.GetGauge().GetMetrics() {
			want = append(want, k)
		}
		got := r.GaugeNames(nil)
		sort.Strings(want)
		sort.Strings(got)
		if len(got) != len(want) {
			t.Fatalf("gauge names %q, want %q", got, want)
		}
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("gauge names %q, want %q", got, want)
			}
		}
		for _, s := range sels {
			if s.MatchesRoute(&r) != s.Matches(&e) {
				t.Fatalf("selector %v: route and envelope disagree", s)
			}
		}
		// The routing read of our own marshal gives the same route.
		b2, err := proto.Marshal(&e)
		if err != nil {
			t.Fatal(err)
		}
		r2, err := envelope.ReadRoute(b2)
		if err != nil {
			t.Fatalf("re-marshaled envelope rejected: %v", err)
		}
		h1, ok1 := r.NameHash()
		h2, ok2 := r2.NameHash()
		if r2.SourceID != r.SourceID || r2.Kind != r.Kind || r2.Name != r.Name || h1 != h2 || ok1 != ok2 {
			t.Fatalf("route changed across a re-marshal")
		}
	})
}

// FuzzSplitBatch: a batch is accepted by SplitBatch plus CheckBatch exactly
// when proto.Unmarshal accepts it, and splits into the same envelopes.
func FuzzSplitBatch(f *testing.F) {
	b, _ := proto.Marshal(&envelope.Batch{Batch: []*envelope.Envelope{benchEnvelope(), envelope.NewCounter("c", "n", 1)}})
	f.Add(b)
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		var batch envelope.Batch
		uerr := proto.Unmarshal(b, &batch)
		parts, serr := envelope.SplitBatch(b, nil)
		if serr == nil {
			serr = envelope.CheckBatch(b)
		}
		if (uerr == nil) != (serr == nil) {
			t.Fatalf("proto.Unmarshal: %v; SplitBatch/CheckBatch: %v", uerr, serr)
		}
		if uerr != nil {
			return
		}
		if len(parts) != len(batch.GetBatch()) {
			t.Fatalf("%d parts, want %d", len(parts), len(batch.GetBatch()))
		}
		for i, p := range parts {
			if cap(p) != len(p) {
				t.Fatalf("part %d has room past its end (%d of %d)", i, len(p), cap(p))
			}
			var e envelope.Envelope
			if err := proto.Unmarshal(p, &e); err != nil || !proto.Equal(&e, batch.GetBatch()[i]) {
				t.Fatalf("part %d differs (%v)", i, err)
			}
		}
	})
}
