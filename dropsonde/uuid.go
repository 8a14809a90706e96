package dropsonde

import (
	"encoding/binary"
	"encoding/hex"

	"google.golang.org/protobuf/proto"

	"github.com/sluicelog/sluice/dropsonde/events"
)

// uuidString formats a v1 UUID (little-endian bytes: low then high) as
// Loggregator does: the 16 bytes in that order, hex, grouped 8-4-4-4-12.
// A nil UUID formats as all zeros.
func uuidString(u *events.UUID) string {
	var b [16]byte
	binary.LittleEndian.PutUint64(b[:8], u.GetLow())
	binary.LittleEndian.PutUint64(b[8:], u.GetHigh())
	var s [36]byte
	hex.Encode(s[0:8], b[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], b[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], b[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], b[8:10])
	s[23] = '-'
	hex.Encode(s[24:36], b[10:16])
	return string(s[:])
}

// parseUUID reads a 36-character UUID string back into a v1 UUID, or
// returns nil. As in Loggregator, the characters at the four separator
// positions are skipped, not checked.
func parseUUID(s string) *events.UUID {
	if len(s) != 36 {
		return nil
	}
	h := s[0:8] + s[9:13] + s[14:18] + s[19:23] + s[24:36]
	var b [16]byte
	if _, err := hex.Decode(b[:], []byte(h)); err != nil {
		return nil
	}
	return &events.UUID{
		Low:  proto.Uint64(binary.LittleEndian.Uint64(b[:8])),
		High: proto.Uint64(binary.LittleEndian.Uint64(b[8:])),
	}
}
