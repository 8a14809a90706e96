package main

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	"github.com/sluicelog/sluice/envelope"
	"github.com/sluicelog/sluice/internal/wire"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fakeStream is the part of a gRPC stream the relay's handlers use: it
// receives the given batches, then io.EOF, and fails every send once
// release is closed.
type fakeStream struct {
	grpc.ServerStream
	ctx     context.Context
	batches [][]byte
	release chan struct{}
	sends   int
}

func (f *fakeStream) Context() context.Context { return f.ctx }

func (f *fakeStream) RecvMsg(m any) error {
	if len(f.batches) == 0 {
		return io.EOF
	}
	m.(*wire.Batch).Raw, f.batches = f.batches[0], f.batches[1:]
	return nil
}

func (f *fakeStream) SendMsg(any) error {
	f.sends++
	<-f.release
	return errors.New("peer gone")
}

// Every envelope the relay takes in is delivered or counted dropped: here
// the subscriber's stream fails at its first send, made while the sender
// sends, and what that send carried and what its queue still held are
// both counted.
func TestRelayCountsWhatItCannotSend(t *testing.T) {
	env, err := proto.Marshal(envelope.NewLog("app", []byte("x")))
	require.NoError(t, err)
	envs := make([][]byte, 100)
	for i := range envs {
		envs[i] = env
	}
	batch := envelope.AppendBatch(nil, envs)
	r := &relay{depth: 10, queues: map[string]*shard{}}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sub := &fakeStream{ctx: ctx, release: make(chan struct{})}
	done := make(chan error, 1)
	go func() { done <- r.BatchedReceiver(&envelope.EgressBatchRequest{ShardId: "A"}, sub) }()
	require.Eventually(t, func() bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		return r.queues["A"] != nil
	}, 5*time.Second, time.Millisecond)

	sender := &fakeStream{ctx: ctx, batches: [][]byte{batch, batch, batch, batch, batch}}
	require.ErrorIs(t, r.BatchSender(sender), io.EOF)
	close(sub.release) // the send under way, and with it the stream, fails
	require.Error(t, <-done)
	assert.Equal(t, 1, sub.sends)
	assert.Equal(t, uint64(500), r.ingress.Load())
	assert.Equal(t, uint64(500), r.dropped.Load(), "sent none: all dropped")
	assert.Empty(t, r.queues, "the shard left with its last reader")
}
