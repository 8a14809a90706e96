package wire

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sluicelog/sluice/envelope"
)

// Envelopes written in place with BeginEnvelope and EndEnvelope make the
// batch AppendBatch makes, whatever the hint: a length that takes fewer
// or more bytes than the hint's moves the envelope (sizes around 128 and
// 16384); a message that outgrows its buffer still marshals whole.
func TestMessageWritesABatch(t *testing.T) {
	var envs [][]byte
	hints := []int{0, 1, 127, 128, 16383, 16384, 1 << 21}
	for _, n := range []int{0, 1, 126, 127, 128, 129, 16383, 16384, 16385, 300} {
		envs = append(envs, bytes.Repeat([]byte{byte(n)}, n))
	}
	for _, hint := range hints {
		var m Message
		m.Reset(16) // far too small: append outgrows it
		for _, e := range envs {
			f := m.BeginEnvelope(hint)
			m.B = append(m.B, e...)
			m.EndEnvelope(f)
		}
		bufs, err := Codec{}.Marshal(&m)
		require.NoError(t, err)
		assert.Equal(t, envelope.AppendBatch(nil, envs), bufs.Materialize(), "hint %d", hint)
		bufs.Free()
		assert.Nil(t, m.B, "Marshal took the bytes")
		got, err := envelope.SplitBatch(envelope.AppendBatch(nil, envs), nil)
		require.NoError(t, err)
		assert.Len(t, got, len(envs))
	}
}

// Marshal hands the buffer from Pool over to grpc as it is, without a
// copy; a Message without a buffer from Reset is copied; an empty one
// marshals to nothing.
func TestMessageMarshalHandsOver(t *testing.T) {
	var m Message
	m.Reset(1000)
	m.B = append(m.B, "hello"...)
	at := &m.B[0]
	bufs, err := Codec{}.Marshal(&m)
	require.NoError(t, err)
	require.Len(t, bufs, 1)
	assert.Equal(t, []byte("hello"), bufs[0].ReadOnlyData())
	assert.Same(t, at, &bufs[0].ReadOnlyData()[0], "not copied")
	bufs.Free()

	mine := []byte("mine")
	m = Message{B: mine}
	bufs, err = Codec{}.Marshal(&m)
	require.NoError(t, err)
	assert.Equal(t, []byte("mine"), bufs.Materialize())
	assert.NotSame(t, &mine[0], &bufs[0].ReadOnlyData()[0], "copied")
	bufs.Free()

	m.Reset(10)
	bufs, err = Codec{}.Marshal(&m)
	require.NoError(t, err)
	assert.Equal(t, 0, bufs.Len())
}

// Release gives the buffer back and empties the Message; Release after
// Marshal, or twice, does nothing.
func TestMessageRelease(t *testing.T) {
	var m Message
	m.Reset(100)
	m.B = append(m.B, 1, 2, 3)
	m.Release()
	assert.Nil(t, m.B)
	assert.Nil(t, m.buf)
	m.Release()
	m.Reset(100)
	bufs, err := Codec{}.Marshal(&m)
	require.NoError(t, err)
	m.Release()
	bufs.Free()
	allocs := testing.AllocsPerRun(100, func() {
		m.Reset(30000)
		f := m.BeginEnvelope(200)
		m.B = append(m.B, make([]byte, 200)...)
		m.EndEnvelope(f)
		m.Release()
	})
	assert.Equal(t, 0.0, allocs)
}
