package dropsonde_test

import (
	"bytes"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/sluicelog/sluice/dropsonde"
	"github.com/sluicelog/sluice/dropsonde/events"
	"github.com/sluicelog/sluice/envelope"
)

// Seed corpora live in testdata/fuzz/FuzzV1ToV2; these add every v1 type.
func fuzzSeeds(f *testing.F) {
	for _, e := range []*events.Envelope{v1Log(), v1ValueMetric(), v1Counter(), v1ContainerMetric(), v1HTTP(), v1Error()} {
		b, err := proto.Marshal(e)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}

var det = proto.MarshalOptions{Deterministic: true}

// FuzzV1ToV2: PayloadToV2 never panics, refuses with ErrMalformed or
// ErrUnsupportedType, and what it accepts is a v2 envelope sluice routes.
// Round trip invariants on accepted input:
//   - every v1 envelope FromV2 makes of the v2 envelope marshals and decodes
//     (exactly one per converted v1 envelope);
//   - v2 is stable: ToV2(FromV2(v2)) == v2, byte for byte, except where
//     Loggregator's rules lose information (see v2Stable);
//   - v1 is stable after one conversion: FromV2(ToV2(v1')) == v1' for
//     v1' = FromV2(v2), when v2 has a source ID.
func FuzzV1ToV2(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, payload []byte) {
		b, err := dropsonde.PayloadToV2(payload)
		if err != nil {
			return
		}
		if _, err := envelope.ReadRoute(b); err != nil {
			t.Fatalf("output is no routable v2 envelope: %v", err)
		}
		var v2 envelope.Envelope
		if err := proto.Unmarshal(b, &v2); err != nil {
			t.Fatalf("output does not unmarshal: %v", err)
		}
		v1s := dropsonde.FromV2(&v2)
		if len(v1s) != 1 {
			t.Fatalf("FromV2 gave %d envelopes for one converted v1 envelope", len(v1s))
		}
		v1b, err := det.Marshal(v1s[0])
		if err != nil {
			t.Fatalf("FromV2 result does not marshal: %v", err)
		}
		v1, err := dropsonde.Decode(v1b)
		if err != nil {
			t.Fatalf("FromV2 result does not decode: %v", err)
		}
		again, err := dropsonde.PayloadToV2(v1b)
		if err != nil {
			t.Fatalf("FromV2 result does not convert: %v", err)
		}
		if v2Stable(&v2) && !bytes.Equal(b, again) {
			t.Fatalf("v2 changed through v1:\n%v\n%v", &v2, dropsonde.ToV2(v1))
		}
		if v2.GetSourceId() == "" {
			return // comes back as deployment/job, so v1 gains a source_id tag
		}
		v1again := dropsonde.FromV2(dropsonde.ToV2(v1))
		if len(v1again) != 1 {
			t.Fatalf("second FromV2 gave %d envelopes", len(v1again))
		}
		b2, err := det.Marshal(v1again[0])
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(v1b, b2) {
			t.Fatalf("v1 changed after one round:\n%v\n%v", v1, v1again[0])
		}
	})
}

// v2Stable says whether the v2 envelope survives v2 -> v1 -> v2. It does not
// when an empty source ID comes back as deployment/job, when a timer's
// method or peer type is a number v1 does not define (it comes back as 0),
// when a timer's
// source ID parses as a UUID that prints differently (upper case, other
// separators), or when a container metric's value does not survive float64
// -> uint64 (at or beyond 2^64, negative, not a number).
func v2Stable(e *envelope.Envelope) bool {
	if e.GetSourceId() == "" {
		return false
	}
	if e.GetTimer() != nil {
		_, okMethod := events.Method_value[e.GetTags()["method"]]
		_, okPeer := events.PeerType_value[e.GetTags()["peer_type"]]
		if !okMethod || !okPeer {
			return false // an undefined number comes back as 0
		}
		if s := e.GetSourceId(); len(s) == 36 {
			for i, c := range s {
				sep := i == 8 || i == 13 || i == 18 || i == 23
				if sep != (c == '-') || (!sep && 'A' <= c && c <= 'F') {
					return false
				}
			}
		}
	}
	if e.GetTags()["__v1_type"] == "ContainerMetric" {
		for name, m := range e.GetGauge().GetMetrics() {
			if name == "cpu" {
				continue
			}
			if v := m.GetValue(); !(v >= 0 && v < 1<<63) {
				return false
			}
		}
	}
	return true
}
