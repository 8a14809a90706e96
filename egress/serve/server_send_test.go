package serve

import (
	"bytes"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	"github.com/sluicelog/sluice/envelope"
)

// recordStream is a codecStream that keeps every message it marshals.
type recordStream struct {
	codecStream
	msgs [][]byte
}

func (s *recordStream) SendMsg(m any) error {
	s.keep = true
	if err := s.codecStream.SendMsg(m); err != nil {
		return err
	}
	s.msgs = append(s.msgs, s.last)
	return nil
}

// twoCopySend is how a Server sent a batch before it wrote envelopes in
// place: each envelope rewritten into a buffer of its own, then split by
// leadingFit and copied into each message by AppendBatch (Receiver: one
// message per envelope).
func twoCopySend(envs [][]byte, converge, preferred, batched bool, limit int) [][]byte {
	var r tagRewriter
	out := make([][]byte, len(envs))
	for i, e := range envs {
		out[i] = e
		if converge {
			out[i] = r.converge(e, preferred)
		}
	}
	var msgs [][]byte
	if !batched {
		for _, e := range out {
			msgs = append(msgs, bytes.Clone(e))
		}
		return msgs
	}
	for rest := out; len(rest) > 0; {
		n := leadingFit(rest, limit)
		msgs = append(msgs, envelope.AppendBatch(nil, rest[:n]))
		rest = rest[n:]
	}
	return msgs
}

// sizedLog is a log envelope of about n bytes with the given tags and
// deprecated tags.
func sizedLog(n int, tags map[string]string, deprecated map[string]*envelope.Value) []byte {
	e := envelope.NewLog("s", bytes.Repeat([]byte("p"), max(n-8, 0)))
	e.Tags, e.DeprecatedTags = tags, deprecated
	b, err := proto.Marshal(e)
	if err != nil {
		panic(err)
	}
	return b
}

// A Server's messages are byte for byte what it sent when it rewrote each
// envelope into a buffer of its own and copied it into the message: over
// random envelopes, both tag settings, WithTagsUnchanged, BatchedReceiver
// with limits that split batches, and Receiver. Envelopes whose length
// takes one byte more or less once rewritten (their size crosses 128 or
// 16384) move inside the message.
func TestStreamSenderWritesWhatTwoCopiesWrote(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 15))
	var crossing [][]byte
	for n := 110; n < 140; n++ {
		crossing = append(crossing,
			sizedLog(n, map[string]string{"a": "b", "job": "x"}, nil),
			sizedLog(n, nil, map[string]*envelope.Value{"d": decimal(0.5), "e": decimal(2)}),
			sizedLog(n+16384-128, map[string]string{"a": "b"}, nil),
			sizedLog(n+16384-128, nil, map[string]*envelope.Value{"d": decimal(0.5)}))
	}
	batches := [][][]byte{crossing}
	for range 40 {
		var envs [][]byte
		for range 1 + rng.IntN(100) {
			envs = append(envs, randomTagEnvelope(rng))
		}
		batches = append(batches, envs)
	}
	for _, c := range []struct {
		name               string
		batched, preferred bool
		limit              int
		opts               []ServerOption
	}{
		{"batched/deprecated", true, false, DefaultMaxBatchBytes, nil},
		{"batched/preferred", true, true, DefaultMaxBatchBytes, nil},
		{"batched/unchanged", true, false, DefaultMaxBatchBytes, []ServerOption{WithTagsUnchanged()}},
		{"split/deprecated", true, false, 2000, nil},
		{"split/preferred", true, true, 700, nil},
		{"split/tiny", true, false, 1, nil},
		{"receiver/deprecated", false, false, DefaultMaxBatchBytes, nil},
		{"receiver/preferred", false, true, DefaultMaxBatchBytes, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			stream := &recordStream{}
			w := benchSender(t, stream, c.batched, c.preferred, append([]ServerOption{WithMaxBatchBytes(c.limit)}, c.opts...)...)
			total := 0
			for i, envs := range batches {
				stream.msgs = nil
				orig := make([][]byte, len(envs))
				for j, e := range envs {
					orig[j] = bytes.Clone(e)
				}
				want := twoCopySend(envs, w.converge, c.preferred, c.batched, c.limit)
				w.flush(envs)
				require.NoError(t, w.err)
				require.Equal(t, len(want), len(stream.msgs), "batch %d: messages", i)
				for j := range want {
					require.Equal(t, want[j], stream.msgs[j], "batch %d message %d", i, j)
				}
				require.Equal(t, orig, envs, "batch %d: the envelopes are not changed", i)
				total += len(envs)
			}
			st := w.s.Stats()
			assert.Equal(t, uint64(total), st.Egress)
			assert.Equal(t, uint64(0), st.Dropped.Total())
		})
	}
}

// failStream fails every send.
type failStream struct{ codecStream }

func (*failStream) SendMsg(any) error { return grpc.ErrServerStopped }

// A send that fails before the codec takes the message leaves nothing
// held, counts the batch as dropped, and nothing is sent after it.
func TestStreamSenderCountsFailedSends(t *testing.T) {
	env := routerTestMarshal(t, benchSendEnvelope())
	for _, batched := range []bool{true, false} {
		w := benchSender(t, &failStream{}, batched, false, WithMaxBatchBytes(1000))
		envs := [][]byte{env, env, env, env, env, env, env, env, env, env}
		w.flush(envs)
		require.ErrorIs(t, w.err, grpc.ErrServerStopped)
		assert.Nil(t, w.msg.B)
		w.flush(envs[:3])
		st := w.s.Stats()
		assert.Equal(t, uint64(0), st.Egress)
		assert.Equal(t, uint64(13), st.Dropped.Total())
		assert.Equal(t, uint64(13), st.DroppedByShard[""][CauseStreamBroken])
	}
}
