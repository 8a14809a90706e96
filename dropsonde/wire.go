package dropsonde

import (
	"errors"
	"fmt"

	"google.golang.org/protobuf/proto"

	"github.com/sluicelog/sluice/dropsonde/events"
)

var (
	// ErrMalformed is returned (wrapped) for a payload that is not a valid
	// v1 envelope: not protobuf, a required field unset, the event its type
	// names missing, or strings that v2 cannot carry (not UTF-8). Enum
	// values v1 does not define (an HTTP method 45) are accepted, as
	// Loggregator accepts them.
	ErrMalformed = errors.New("dropsonde: malformed v1 envelope")
	// ErrUnsupportedType is returned (wrapped) for a well-formed v1
	// envelope whose event type this package does not convert: the types
	// the protocol removed (1 Heartbeat, 2 HttpStart, 3 HttpStop) and any
	// number it does not define.
	ErrUnsupportedType = errors.New("dropsonde: unsupported v1 event type")
)

var (
	decodeOpts = proto.UnmarshalOptions{AllowPartial: true}
	encodeOpts = proto.MarshalOptions{Deterministic: true}
)

// Decode unmarshals a v1 payload (a marshaled events.Envelope) and checks it
// as Loggregator's router does before accepting it: the required fields are
// set, and so is the event that eventType names. Errors wrap ErrMalformed or
// ErrUnsupportedType. Decode never panics.
func Decode(payload []byte) (*events.Envelope, error) {
	e := new(events.Envelope)
	if err := decodeOpts.Unmarshal(payload, e); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if err := proto.CheckInitialized(e); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	// Go's protobuf keeps enum numbers a proto2 enum does not define (as
	// gogo, and so Loggregator, does): such a type is well-formed but has no
	// conversion.
	if _, ok := events.Envelope_EventType_name[int32(e.GetEventType())]; !ok {
		return nil, fmt.Errorf("%w: eventType %d", ErrUnsupportedType, e.GetEventType())
	}
	if !hasEvent(e) {
		return nil, fmt.Errorf("%w: eventType %s without its event", ErrMalformed, e.GetEventType())
	}
	return e, nil
}

func hasEvent(e *events.Envelope) bool {
	switch e.GetEventType() {
	case events.Envelope_LogMessage:
		return e.LogMessage != nil
	case events.Envelope_ValueMetric:
		return e.ValueMetric != nil
	case events.Envelope_CounterEvent:
		return e.CounterEvent != nil
	case events.Envelope_ContainerMetric:
		return e.ContainerMetric != nil
	case events.Envelope_HttpStartStop:
		return e.HttpStartStop != nil
	case events.Envelope_Error:
		return e.Error != nil
	}
	return false
}

// PayloadToV2 turns a v1 payload (a marshaled events.Envelope, what
// /plumbing.DopplerIngestor/Pusher carries) into the wire bytes of the v2
// envelope ToV2 makes of it, marshaled deterministically (equal input gives
// equal bytes). Errors wrap ErrMalformed or ErrUnsupportedType. It never
// panics.
func PayloadToV2(payload []byte) ([]byte, error) {
	b, _, err := payloadToV2(payload)
	return b, err
}

func payloadToV2(payload []byte) ([]byte, events.Envelope_EventType, error) {
	e, err := Decode(payload)
	if err != nil {
		return nil, 0, err
	}
	b, err := encodeOpts.Marshal(ToV2(e))
	if err != nil { // proto2 strings need not be UTF-8; proto3 ones must
		return nil, 0, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return b, e.GetEventType(), nil
}
