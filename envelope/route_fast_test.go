package envelope

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"
)

// commonSeeds are envelopes the fast path reads (and near misses it must
// leave to the general path).
func commonSeeds(t testing.TB) [][]byte {
	m := func(e *Envelope) []byte {
		b, err := proto.Marshal(e)
		require.NoError(t, err)
		return b
	}
	long := make([]byte, 300)
	for i := range long {
		long[i] = 'a' + byte(i%26)
	}
	log := m(NewLog("9f1c2b7e-6a41-4d3e-8c55-0b7a2e19d4f3", []byte("hello"),
		WithInstanceID("0"), WithTag("deployment", "cf"), WithTag("job", "diego-cell")))
	return [][]byte{
		log,
		m(NewLog("s", long)),
		m(NewLog("é", []byte("x"))), // not ASCII: the general path
		append(m(NewLog("s", []byte("x"))), 0x4a, 0x06, 0x0a, 0x01, 'k', 0x12, 0x01, 0xff), // invalid UTF-8: refused there
		m(NewCounter("s", "requests", 3)),
		m(NewGauge("s", []Metric{{Name: "cpu", Unit: "%", Value: 1}, {Name: "mem", Value: 2}})),
		m(NewTimer("s", "latency", time.Unix(1, 0), time.Unix(2, 0))),
		m(NewEvent("s", "title", "body")),
		{0x22, 0x00, 0x2a, 0x00},                                           // a log, then a counter: the counter wins
		{0x2a, 0x04, 0x0a, 0x02, 'a', 'b', 0x22, 0x00},                     // a counter, then a log
		{0x12, 0x01, 'a', 0x12, 0x01, 'b'},                                 // the last source ID wins
		{0x08, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01},       // a 9-byte varint, the last byte ends it
		{0x08, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01}, // 10 bytes: the general path
		{0x08, 0x01}, // too short for a word: the general path
		append([]byte{0x12, 0x80, 0x01}, long[:128]...), // a two-byte length
		{0x12, 0x80, 0x00},                   // a non-minimal length
		{0x1a, 0x00},                         // deprecated_tags: the general path
		{0x4a, 0x04, 0x0a, 0x00, 0x12, 0x00}, // an empty tag
		{0x4a, 0x02, 0x0a, 0x00},             // a tag without a value
		{0x00},
	}
}

// The fast path accepts only what the general path accepts and reads the
// same Route from it.
func TestReadCommonAgrees(t *testing.T) {
	var fast []int
	for i, b := range commonSeeds(t) {
		if checkCommon(t, b) {
			fast = append(fast, i)
		}
	}
	// Not ASCII, invalid UTF-8, a 10-byte or a short timestamp,
	// deprecated_tags, a tags entry without a value and a zero tag are
	// left to the general path.
	assert.Equal(t, []int{0, 1, 4, 5, 6, 7, 8, 9, 10, 11, 14, 15, 17}, fast)
}

// checkCommon reports whether the validating fast path read b, failing t
// if the general path disagrees; and checks the trusted fast path against
// the trusted general path on every input the validating read accepts.
func checkCommon(t *testing.T, b []byte) bool {
	t.Helper()
	var all Route
	allErr := all.readAll(b, true)
	if allErr == nil {
		trusted := Route{raw: b, gaugeAt: -1}
		if trusted.readCommon(b, false) {
			require.Equal(t, all, trusted, "trusted: %x", b)
		}
	}
	fast := Route{raw: b, gaugeAt: -1}
	if !fast.readCommon(b, true) {
		return false
	}
	require.NoError(t, allErr, "the fast path accepted what the general path refuses: %x", b)
	require.Equal(t, all, fast, "%x", b)
	return true
}

func FuzzReadCommon(f *testing.F) {
	for _, b := range commonSeeds(f) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		checkCommon(t, b)
	})
}
