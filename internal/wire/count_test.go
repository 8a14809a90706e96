package wire

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/mem"

	"github.com/sluicelog/sluice/envelope"
	"github.com/sluicelog/sluice/internal/benchcpu"
)

// split returns data cut into buffers of at most size bytes, as grpc hands
// over a message that spans several data frames.
func split(data []byte, size int) mem.BufferSlice {
	var s mem.BufferSlice
	for len(data) > 0 {
		n := min(size, len(data))
		s = append(s, mem.SliceBuffer(data[:n]))
		data = data[n:]
	}
	return s
}

// Envelopes are counted from the framing across buffer boundaries; framing
// that is not a batch's is not counted.
func TestCountEnvelopes(t *testing.T) {
	envs := [][]byte{make([]byte, 3), make([]byte, 200), {}, make([]byte, 130)}
	raw := envelope.AppendBatch(nil, envs)
	for _, size := range []int{1, 2, 7, 16384} {
		n, ok := countEnvelopes(split(raw, size))
		require.True(t, ok, size)
		assert.Equal(t, 4, n, size)
	}
	n, ok := countEnvelopes(nil)
	assert.True(t, ok)
	assert.Equal(t, 0, n)
	for name, bad := range map[string][]byte{
		"length beyond the end": {0x0a, 0x05, 1, 2},
		"another field":         {0x10, 0x01},
		"cut varint":            {0x0a, 0x80},
	} {
		_, ok := countEnvelopes(split(bad, 1))
		assert.False(t, ok, name)
	}
}

// With SkipIf answering true the codec counts instead of copying; answering
// false, or on framing it cannot count, it copies as usual. SkipIf sees the
// message's size.
func TestUnmarshalSkips(t *testing.T) {
	raw := envelope.AppendBatch(nil, [][]byte{make([]byte, 10), make([]byte, 20)})
	var seen int
	b := &Batch{SkipIf: func(size int) bool { seen = size; return true }}
	require.NoError(t, Codec{}.Unmarshal(split(raw, 8), b))
	assert.Equal(t, len(raw), seen)
	assert.True(t, b.Skipped)
	assert.Equal(t, 2, b.SkippedEnvelopes)
	assert.Nil(t, b.Raw)

	b.SkipIf = func(int) bool { return false }
	require.NoError(t, Codec{}.Unmarshal(split(raw, 8), b))
	assert.False(t, b.Skipped)
	assert.Equal(t, raw, b.Raw)

	bad := []byte{0x10, 0x01}
	b.SkipIf = func(int) bool { return true }
	require.NoError(t, Codec{}.Unmarshal(split(bad, 8), b))
	assert.False(t, b.Skipped)
	assert.Equal(t, bad, b.Raw)
}

// What countEnvelopes counts, envelope.SplitBatch splits into as many
// envelopes, whatever the bytes and however they are cut.
func FuzzCountEnvelopes(f *testing.F) {
	f.Add(envelope.AppendBatch(nil, [][]byte{make([]byte, 3), make([]byte, 200)}), uint8(7))
	f.Add([]byte{0x0a, 0x05, 1, 2}, uint8(1))
	f.Add([]byte{0x10, 0x01, 0x0a, 0x00}, uint8(2))
	f.Fuzz(func(t *testing.T, raw []byte, cut uint8) {
		n, ok := countEnvelopes(split(raw, int(cut)+1))
		if !ok {
			return
		}
		envs, err := envelope.SplitBatch(raw, nil)
		require.NoError(t, err)
		require.Len(t, envs, n)
	})
}

// BenchmarkShedBatch: what shedding one received batch of 100 bench-sized
// envelopes (two data frames) costs: counting its framing, against copying
// it out of grpc's buffers as receiving it does.
func BenchmarkShedBatch(b *testing.B) {
	envs := make([][]byte, 100)
	for i := range envs {
		envs[i] = make([]byte, 239)
	}
	s := split(envelope.AppendBatch(nil, envs), 16384)
	b.Run("count", func(b *testing.B) {
		b.ReportAllocs()
		defer benchcpu.Start(b)()
		for b.Loop() {
			if n, ok := countEnvelopes(s); !ok || n != 100 {
				b.Fatal(n, ok)
			}
		}
	})
	b.Run("copy", func(b *testing.B) {
		b.ReportAllocs()
		defer benchcpu.Start(b)()
		for b.Loop() {
			_ = s.Materialize()
		}
	})
}
