package envelope

import (
	"errors"
	"fmt"

	"google.golang.org/protobuf/encoding/protowire"
)

// The nested messages of an Envelope, described just enough to validate them
// as protobuf's decoder does: a field of the right wire type is checked by
// its kind; a field of another wire type, or an unknown field, is skipped as
// an unknown field (and must itself be well formed).

type fieldKind uint8

const (
	fUnknown fieldKind = iota
	fVarint
	fFixed64
	fBytes
	fString
	fMessage
)

type fieldSpec struct {
	kind fieldKind
	msg  *msgSpec
}

type msgSpec struct {
	name   string
	fields [4]fieldSpec // indexed by field number; every nested message has numbers 1..3
}

var (
	specValue = msgSpec{name: "Value", fields: [4]fieldSpec{
		1: {kind: fString}, 2: {kind: fVarint}, 3: {kind: fFixed64},
	}}
	specValueMapEntry  = msgSpec{name: "deprecated_tags entry", fields: [4]fieldSpec{1: {kind: fString}, 2: {kind: fMessage, msg: &specValue}}}
	specStringMapEntry = msgSpec{name: "tags entry", fields: [4]fieldSpec{1: {kind: fString}, 2: {kind: fString}}}
	specLog            = msgSpec{name: "Log", fields: [4]fieldSpec{1: {kind: fBytes}, 2: {kind: fVarint}}}
	specCounter        = msgSpec{name: "Counter", fields: [4]fieldSpec{1: {kind: fString}, 2: {kind: fVarint}, 3: {kind: fVarint}}}
	specGaugeValue     = msgSpec{name: "GaugeValue", fields: [4]fieldSpec{1: {kind: fString}, 2: {kind: fFixed64}}}
	specGaugeEntry     = msgSpec{name: "metrics entry", fields: [4]fieldSpec{1: {kind: fString}, 2: {kind: fMessage, msg: &specGaugeValue}}}
	specGauge          = msgSpec{name: "Gauge", fields: [4]fieldSpec{1: {kind: fMessage, msg: &specGaugeEntry}}}
	specTimer          = msgSpec{name: "Timer", fields: [4]fieldSpec{1: {kind: fString}, 2: {kind: fVarint}, 3: {kind: fVarint}}}
	specEvent          = msgSpec{name: "Event", fields: [4]fieldSpec{1: {kind: fString}, 2: {kind: fString}}}
)

var errNestedUTF8 = errors.New("string field is not valid UTF-8")

// validate checks b as the message spec describes.
func validate(b []byte, spec *msgSpec) error {
	_, _, err := readName(b, spec)
	return err
}

// readName validates b as spec and returns the last value of its field 1 if
// that field is a string (the name of a Counter or Timer, the key of a map
// entry) and whether it was present.
func readName(b []byte, spec *msgSpec) (name string, ok bool, err error) {
	for off := 0; off < len(b); {
		num, typ, n := consumeTag(b[off:])
		if n < 0 {
			return "", false, fmt.Errorf("%s at byte %d: %w", spec.name, off, protowire.ParseError(n))
		}
		off += n
		var f fieldSpec
		if int(num) < len(spec.fields) {
			f = spec.fields[num]
		}
		switch {
		case f.kind == fVarint && typ == protowire.VarintType:
			_, n = protowire.ConsumeVarint(b[off:])
		case f.kind == fFixed64 && typ == protowire.Fixed64Type:
			_, n = protowire.ConsumeFixed64(b[off:])
		case f.kind >= fBytes && typ == protowire.BytesType:
			var v []byte
			v, n = protowire.ConsumeBytes(b[off:])
			if n < 0 {
				break
			}
			switch f.kind {
			case fString:
				if !validUTF8(v) {
					return "", false, fmt.Errorf("%s field %d: %w", spec.name, num, errNestedUTF8)
				}
				if num == 1 {
					name, ok = str(v), true
				}
			case fMessage:
				if err := validate(v, f.msg); err != nil {
					return "", false, err
				}
			}
		default:
			n = protowire.ConsumeFieldValue(num, typ, b[off:])
		}
		if n < 0 {
			return "", false, fmt.Errorf("%s at byte %d: %w", spec.name, off, protowire.ParseError(n))
		}
		off += n
	}
	return name, ok, nil
}
