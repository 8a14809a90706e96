package envelope_test

import (
	"bytes"
	"fmt"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/sluicelog/sluice/envelope"
)

// varintOf encodes v in n bytes (n-1 continuation bytes: non-minimal when
// n is more than v needs), with last as the final byte when n is 10.
func varintOf(v uint64, n int, last byte) []byte {
	var out []byte
	for i := 0; i < n-1; i++ {
		out = append(out, byte(v&0x7f)|0x80)
		v >>= 7
	}
	if n == 10 {
		return append(out, last)
	}
	return append(out, byte(v&0x7f))
}

// The fast paths of ReadRoute (the log, the timestamp, tags entries and
// ASCII strings) accept and refuse exactly what proto.Unmarshal does at
// their edges: lengths of one, two and three bytes, non-minimal varints,
// varints of nine, ten and eleven bytes, fields out of the usual order,
// truncation, and non-ASCII or invalid UTF-8 in tags.
func TestReadRouteFastPathsAgreeWithProto(t *testing.T) {
	field := func(num protowire.Number, typ protowire.Type, v []byte) []byte {
		return append(protowire.AppendTag(nil, num, typ), v...)
	}
	bytesField := func(num protowire.Number, v []byte) []byte {
		return protowire.AppendBytes(protowire.AppendTag(nil, num, protowire.BytesType), v)
	}
	cases := map[string][]byte{}
	for _, l := range []int{0, 1, 127, 128, 300, 16383, 16384} {
		payload := bytes.Repeat([]byte{0xff}, l) // bytes, not a string: any byte goes
		cases[fmt.Sprintf("log payload %d", l)] = bytesField(4, bytesField(1, payload))
	}
	for n := 1; n <= 11; n++ {
		for _, last := range []byte{0x00, 0x01, 0x02, 0x7f} {
			v := varintOf(3, n, last)
			cases[fmt.Sprintf("log type varint %d bytes last %#x", n, last)] = bytesField(4, append(bytesField(1, []byte("p")), field(2, protowire.VarintType, v)...))
			cases[fmt.Sprintf("timestamp varint %d bytes last %#x", n, last)] = append(field(1, protowire.VarintType, v), bytesField(2, []byte("s"))...)
		}
	}
	cases["log payload non-minimal length"] = bytesField(4, append([]byte{0x0a, 0x82, 0x00}, "ab"...))
	cases["log payload length past the end"] = bytesField(4, []byte{0x0a, 0x05, 'a'})
	cases["log payload two-byte length past the end"] = bytesField(4, []byte{0x0a, 0x80, 0x01, 'a'})
	cases["log payload truncated length"] = bytesField(4, []byte{0x0a, 0x80})
	cases["log type before payload"] = bytesField(4, append(field(2, protowire.VarintType, []byte{1}), bytesField(1, []byte("p"))...))
	cases["log unknown field"] = bytesField(4, append(bytesField(1, []byte("p")), bytesField(3, []byte("x"))...))
	cases["log type truncated"] = bytesField(4, []byte{0x10})
	cases["log payload as varint"] = bytesField(4, field(1, protowire.VarintType, []byte{1}))
	cases["log two payloads"] = bytesField(4, append(bytesField(1, []byte("p")), bytesField(1, []byte("q"))...))
	cases["timestamp truncated"] = field(1, protowire.VarintType, []byte{0x80})
	for _, tc := range []struct{ name, k, v string }{
		{"ascii", "deployment", "cf"},
		{"non-ascii key", "dépl", "cf"},
		{"non-ascii value", "job", "cellule-é"},
		{"invalid value", "job", "a\xffb"},
		{"invalid key", "\xc3", "x"},
		{"long ascii", "index", "5d3e1f2a-9c47-4b1e-8f6d-2a7e3c9b1d05"},
		{"long invalid last byte", "index", "5d3e1f2a-9c47-4b1e-8f6d-2a7e3c9b1d0\x80"},
	} {
		entry := append(bytesField(1, []byte(tc.k)), bytesField(2, []byte(tc.v))...)
		cases["tag "+tc.name] = append(bytesField(2, []byte("s")), bytesField(9, entry)...)
		cases["source id "+tc.name] = bytesField(2, []byte(tc.v))
	}
	for name, b := range cases {
		t.Run(name, func(t *testing.T) {
			r, rerr := envelope.ReadRoute(b)
			var e envelope.Envelope
			uerr := proto.Unmarshal(b, &e)
			if (rerr == nil) != (uerr == nil) {
				t.Fatalf("ReadRoute: %v; proto.Unmarshal: %v; input %x", rerr, uerr, b)
			}
			if rerr == nil && (r.SourceID != e.GetSourceId() || r.Kind != e.Kind()) {
				t.Fatalf("route (%q, %v), envelope (%q, %v)", r.SourceID, r.Kind, e.GetSourceId(), e.Kind())
			}
		})
	}
}
