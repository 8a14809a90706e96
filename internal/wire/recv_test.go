package wire

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/proto"

	"github.com/sluicelog/sluice/envelope"
	"github.com/sluicelog/sluice/internal/benchcpu"
)

// recvCopy copies exactly what Materialize copies, whatever the buffers:
// the same bytes, nil for an empty message, no spare capacity.
func TestRecvCopy(t *testing.T) {
	data := make([]byte, 40000)
	for i := range data {
		data[i] = byte(i * 7)
	}
	for _, n := range []int{0, 1, 255, 16384, 16385, 40000} {
		for _, size := range []int{1, 3, 4096, 16384, 65536} {
			if n/size > 20 {
				continue
			}
			s := split(data[:n], size)
			got, want := recvCopy(s), s.Materialize()
			require.Equal(t, want, got, "n %d size %d", n, size)
			assert.Equal(t, len(got), cap(got))
			if n == 0 {
				assert.Nil(t, got)
			}
		}
	}
	got := recvCopy(mem.BufferSlice{mem.SliceBuffer(nil), mem.SliceBuffer([]byte{})})
	assert.Nil(t, got)
	s := split(data[:300], 100)
	got = recvCopy(s)
	data[0]++
	assert.NotEqual(t, data[0], got[0], "the copy shares no memory with the buffers")
}

// benchBatchFrames returns a 100-envelope batch of bench-sized envelopes
// (a log with a 100-byte payload, a 36-character source ID and three
// tags: 239 bytes, as examples/routerbench sends) as grpc hands it over: 16 KiB data frames.
func benchBatchFrames(b *testing.B) mem.BufferSlice {
	e := envelope.NewLog("9f1c2b7e-6a41-4d3e-8c55-0b7a2e19d4f3", bytes.Repeat([]byte("x"), 100),
		envelope.WithInstanceID("0"),
		envelope.WithTag("deployment", "cf"),
		envelope.WithTag("job", "diego-cell"),
		envelope.WithTag("index", "5d3e1f2a-9c47-4b1e-8f6d-2a7e3c9b1d05"),
	)
	raw, err := proto.MarshalOptions{Deterministic: true}.Marshal(e)
	require.NoError(b, err)
	require.Len(b, raw, 239)
	envs := make([][]byte, 100)
	for i := range envs {
		envs[i] = raw
	}
	return split(envelope.AppendBatch(nil, envs), 16384)
}

// BenchmarkUnmarshalBatch is what receiving one 100-envelope batch costs
// past grpc: the codec's copy out of the data frames ("unmarshal"), and
// that plus the split and validating read every handler does ("split").
func BenchmarkUnmarshalBatch(b *testing.B) {
	data := benchBatchFrames(b)
	b.Run("unmarshal", func(b *testing.B) {
		var m Batch
		b.SetBytes(int64(data.Len()))
		b.ReportAllocs()
		defer benchcpu.Start(b)()
		for b.Loop() {
			if err := (Codec{}).Unmarshal(data, &m); err != nil || len(m.Raw) != data.Len() {
				b.Fatal(err)
			}
		}
	})
	b.Run("split", func(b *testing.B) {
		var m Batch
		var envs [][]byte // reused, as the ingress handler does
		var sourceless []int
		b.SetBytes(int64(data.Len()))
		b.ReportAllocs()
		defer benchcpu.Start(b)()
		for b.Loop() {
			if err := (Codec{}).Unmarshal(data, &m); err != nil {
				b.Fatal(err)
			}
			m.Envelopes = envs[:0]
			var err error
			if sourceless, err = m.SplitSourceless(sourceless[:0]); err != nil || len(m.Envelopes) != 100 {
				b.Fatal(err)
			}
			envs = m.Envelopes
		}
	})
}
