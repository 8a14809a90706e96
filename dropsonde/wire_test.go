package dropsonde_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/sluicelog/sluice/dropsonde"
	"github.com/sluicelog/sluice/dropsonde/events"
	"github.com/sluicelog/sluice/envelope"
)

func partial(t *testing.T, e *events.Envelope) []byte {
	t.Helper()
	b, err := proto.MarshalOptions{AllowPartial: true}.Marshal(e)
	require.NoError(t, err)
	return b
}

func TestPayloadToV2Refuses(t *testing.T) {
	noOrigin := v1Log()
	noOrigin.Origin = nil
	noType := v1Log()
	noType.EventType = nil
	noEvent := v1Log()
	noEvent.LogMessage = nil
	partialLog := v1Log()
	partialLog.LogMessage.MessageType = nil
	badUTF8 := v1Log()
	badUTF8.Origin = proto.String("\xff")
	noRequestID := v1HTTP()
	noRequestID.HttpStartStop.RequestId = nil

	heartbeat := protowire.AppendVarint(protowire.AppendTag(
		protowire.AppendString(protowire.AppendTag(nil, 1, protowire.BytesType), "origin"),
		2, protowire.VarintType), 1)
	unknownType := protowire.AppendVarint(protowire.AppendTag(
		protowire.AppendString(protowire.AppendTag(nil, 1, protowire.BytesType), "origin"),
		2, protowire.VarintType), 99)

	tests := []struct {
		name    string
		payload []byte
		want    error
	}{
		{"not protobuf", []byte{0xff, 0xff, 0xff}, dropsonde.ErrMalformed},
		{"truncated", mustMarshal(t, v1Log())[:10], dropsonde.ErrMalformed},
		{"empty", nil, dropsonde.ErrMalformed},
		{"no origin", partial(t, noOrigin), dropsonde.ErrMalformed},
		{"no event type", partial(t, noType), dropsonde.ErrMalformed},
		{"type without its event", partial(t, noEvent), dropsonde.ErrMalformed},
		{"event missing a required field", partial(t, partialLog), dropsonde.ErrMalformed},
		{"http without request ID", partial(t, noRequestID), dropsonde.ErrMalformed},
		{"origin not UTF-8", mustMarshal(t, badUTF8), dropsonde.ErrMalformed},
		{"removed type Heartbeat", heartbeat, dropsonde.ErrUnsupportedType},
		{"undefined type 99", unknownType, dropsonde.ErrUnsupportedType},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := dropsonde.PayloadToV2(tt.payload)
			require.ErrorIs(t, err, tt.want)
			assert.Nil(t, b)
			other := dropsonde.ErrUnsupportedType
			if tt.want == dropsonde.ErrUnsupportedType {
				other = dropsonde.ErrMalformed
			}
			assert.NotErrorIs(t, err, other)
		})
	}
}

// Enum numbers v1 does not define are kept, as gogo (Loggregator) keeps
// them, and printed as numbers.
func TestUndefinedEnumValues(t *testing.T) {
	e := v1HTTP()
	e.HttpStartStop.Method = events.Method(45).Enum()
	e.HttpStartStop.PeerType = events.PeerType(0).Enum()
	b, err := dropsonde.PayloadToV2(mustMarshal(t, e))
	require.NoError(t, err)
	var v2 envelope.Envelope
	require.NoError(t, proto.Unmarshal(b, &v2))
	assert.Equal(t, "45", v2.GetTags()["method"])
	assert.Equal(t, "0", v2.GetTags()["peer_type"])
	back := dropsonde.FromV2(&v2)
	require.Len(t, back, 1)
	assert.Equal(t, events.Method(0), back[0].GetHttpStartStop().GetMethod(), "a number is no method name: 0, as Loggregator")
	assert.Equal(t, events.PeerType(0), back[0].GetHttpStartStop().GetPeerType())
}

func TestPayloadToV2Deterministic(t *testing.T) {
	p := mustMarshal(t, v1HTTP())
	first, err := dropsonde.PayloadToV2(p)
	require.NoError(t, err)
	for range 20 {
		b, err := dropsonde.PayloadToV2(p)
		require.NoError(t, err)
		require.Equal(t, first, b)
	}
}
