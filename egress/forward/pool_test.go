package forward

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sluicelog/sluice/discovery"
	"github.com/sluicelog/sluice/internal/testtls"
)

var poolModes = []Mode{Streaming, Acknowledged}

// Over mutual TLS on loopback: everything read is delivered or counted, and
// with no fault everything is delivered exactly once.
func TestPoolDeliversOverMutualTLS(t *testing.T) {
	for _, mode := range poolModes {
		t.Run(mode.String(), func(t *testing.T) {
			_, serverTLS, clientTLS := testtls.Must(t)
			rs := []*poolTestRouter{
				poolStartRouter(t, "", serverTLS, true),
				poolStartRouter(t, "", serverTLS, true),
				poolStartRouter(t, "", serverTLS, true),
			}
			h := poolNewHarness(t, discovery.NewStatic(poolEndpoints(rs...)...), poolTestOptions(clientTLS, WithMode(mode))...)
			h.startSending(500, 5*time.Millisecond)
			require.Eventually(t, func() bool { return h.sent.Load() >= 20000 }, 20*time.Second, 10*time.Millisecond)
			fs, ps := h.finish()
			unique, dups := poolUnique(rs...)
			assert.Zero(t, dups)
			assert.Equal(t, int(fs.Egress), unique, "every envelope sent arrived")
			assert.Empty(t, fs.Dropped)
			assert.Equal(t, uint64(h.sent.Load()), fs.Egress)
			assert.Zero(t, ps.Unconfirmed)
		})
	}
}

// A client without a certificate the routers trust gets no stream up, and
// the pool counts what it could not deliver.
func TestPoolWithoutTrustedCertificate(t *testing.T) {
	_, serverTLS, _ := testtls.Must(t)
	_, _, otherClient := testtls.Must(t)
	r := poolStartRouter(t, "", serverTLS, false)
	h := poolNewHarness(t, discovery.NewStatic(r.endpoint()), poolTestOptions(otherClient, WithWait(50*time.Millisecond))...)
	h.startSending(10, 10*time.Millisecond)
	require.Eventually(t, func() bool { return h.sent.Load() >= 100 }, 10*time.Second, 10*time.Millisecond)
	fs, ps := h.finish()
	assert.Zero(t, r.Count())
	assert.Zero(t, fs.Egress)
	assert.Equal(t, fs.Read, fs.Dropped[CauseUnreachable])
	assert.Zero(t, ps.Streams)
}

func TestPoolNoRouters(t *testing.T) {
	_, serverTLS, clientTLS := testtls.Must(t)
	src := discovery.NewStatic()
	p, err := NewPool(src, poolTestOptions(clientTLS)...)
	require.NoError(t, err)
	defer p.Close()

	var got PoolResult
	require.NoError(t, p.Write(context.Background(), [][]byte{poolTestEnvelope(t, 1)}, func(r PoolResult) { got = r }))
	assert.False(t, got.Sent)
	assert.Equal(t, CauseNoRouters, got.Cause)
	st := p.Stats()
	assert.True(t, st.NoRouters)
	assert.Equal(t, uint64(1), st.Dropped[CauseNoRouters])

	// A router appears: the pool finds it and delivers.
	r := poolStartRouter(t, "", serverTLS, false)
	src.Set(r.endpoint())
	require.Eventually(t, func() bool { return p.Stats().Streams == 5 }, 20*time.Second, 10*time.Millisecond)
	assert.False(t, p.Stats().NoRouters)
	res := make(chan PoolResult, 1)
	require.NoError(t, p.Write(context.Background(), [][]byte{poolTestEnvelope(t, 2)}, func(r PoolResult) { res <- r }))
	assert.True(t, (<-res).Sent)
	require.NoError(t, p.Shutdown(context.Background()))
	assert.Equal(t, uint64(1), r.Count())
}

// poolTestSource is a discovery.Source whose states the test pushes.
type poolTestSource struct {
	ch    chan discovery.State
	state discovery.State
}

func (s *poolTestSource) Subscribe(ctx context.Context) <-chan discovery.State {
	out := make(chan discovery.State, 1)
	out <- s.state
	go func() {
		defer close(out)
		for {
			select {
			case st := <-s.ch:
				select {
				case out <- st:
				case <-ctx.Done():
					return
				}
			case <-ctx.Done():
				return
			}
		}
	}()
	return out
}

func (s *poolTestSource) State() discovery.State { return s.state }

// An empty or failing discovery answer does not tear down working streams.
func TestPoolKeepsStreamsOnDiscoveryFailure(t *testing.T) {
	_, serverTLS, clientTLS := testtls.Must(t)
	r1 := poolStartRouter(t, "", serverTLS, false)
	r2 := poolStartRouter(t, "", serverTLS, false)
	r3 := poolStartRouter(t, "", serverTLS, false)
	r3.Crash() // known but down: no stream on it
	src := &poolTestSource{ch: make(chan discovery.State), state: discovery.State{Endpoints: poolEndpoints(r1, r2, r3), Confirmed: time.Now()}}
	p, err := NewPool(src, poolTestOptions(clientTLS)...)
	require.NoError(t, err)
	defer p.Close()
	require.Eventually(t, func() bool { return p.Stats().Streams == 5 }, 20*time.Second, 10*time.Millisecond)
	before := p.Stats().Connects

	src.ch <- discovery.State{Err: errors.New("etcd down")}
	src.ch <- discovery.State{Endpoints: nil, Err: discovery.ErrNoEndpoints}
	src.ch <- discovery.State{Endpoints: nil, Confirmed: time.Now()} // a valid empty set
	time.Sleep(300 * time.Millisecond)                               // several probe intervals: bounds a check that nothing happens
	st := p.Stats()
	assert.Equal(t, 5, st.Streams)
	assert.Equal(t, before, st.Connects, "no stream was torn down")
	res := make(chan PoolResult, 1)
	require.NoError(t, p.Write(context.Background(), [][]byte{poolTestEnvelope(t, 1)}, func(r PoolResult) { res <- r }))
	assert.True(t, (<-res).Sent)
}

func TestPoolLifecycle(t *testing.T) {
	_, err := NewPool(nil)
	require.ErrorIs(t, err, ErrInvalidConfig)
	_, err = NewPool(discovery.NewStatic(), WithStreams(0))
	require.ErrorIs(t, err, ErrInvalidConfig)
	_, err = NewPool(discovery.NewStatic(), WithBackoff(time.Second, time.Millisecond))
	require.ErrorIs(t, err, ErrInvalidConfig)

	p, err := NewPool(discovery.NewStatic())
	require.NoError(t, err)
	require.NoError(t, p.Shutdown(context.Background()))
	require.NoError(t, p.Shutdown(context.Background()))
	require.NoError(t, p.Close())
	require.ErrorIs(t, p.Write(context.Background(), nil, nil), ErrPoolClosed)

	p, err = NewPool(discovery.NewStatic())
	require.NoError(t, err)
	require.NoError(t, p.Close())
	require.NoError(t, p.Close())
	require.NoError(t, p.Shutdown(context.Background()))
	require.ErrorIs(t, p.Write(context.Background(), nil, nil), ErrPoolClosed)
}
