package tlscork

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/credentials"

	"github.com/sluicelog/sluice/internal/testtls"
)

// countingConn counts the writes made on a raw connection and can be made
// to fail them.
type countingConn struct {
	net.Conn
	writes atomic.Int64
	max    atomic.Int64 // the largest write
	fail   atomic.Bool
}

var errBroken = errors.New("broken")

func (c *countingConn) Write(p []byte) (int, error) {
	if c.fail.Load() {
		return 0, errBroken
	}
	c.writes.Add(1)
	if int64(len(p)) > c.max.Load() {
		c.max.Store(int64(len(p)))
	}
	return c.Conn.Write(p)
}

// pair handshakes over loopback TCP: the server through serverCreds, the
// client through clientCreds, each over a countingConn.
func pair(t *testing.T, serverCreds, clientCreds func(credentials.TransportCredentials) credentials.TransportCredentials) (server, client net.Conn, sraw, craw *countingConn) {
	t.Helper()
	_, scfg, ccfg := testtls.Must(t)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer lis.Close()
	type result struct {
		conn net.Conn
		raw  *countingConn
		err  error
	}
	accepted := make(chan result, 1)
	go func() {
		c, err := lis.Accept()
		if err != nil {
			accepted <- result{err: err}
			return
		}
		raw := &countingConn{Conn: c}
		conn, _, err := serverCreds(credentials.NewTLS(scfg)).ServerHandshake(raw)
		accepted <- result{conn, raw, err}
	}()
	c, err := net.Dial("tcp", lis.Addr().String())
	require.NoError(t, err)
	craw = &countingConn{Conn: c}
	client, _, err = clientCreds(credentials.NewTLS(ccfg)).ClientHandshake(context.Background(), "localhost", craw)
	require.NoError(t, err)
	r := <-accepted
	require.NoError(t, r.err)
	t.Cleanup(func() { client.Close(); r.conn.Close() })
	return r.conn, client, r.raw, craw
}

func plain(c credentials.TransportCredentials) credentials.TransportCredentials { return c }

// writeAndRead writes p on from (one Write) and reads it all on to,
// checking it arrives intact; it returns the raw writes the Write took.
func writeAndRead(t *testing.T, from, to net.Conn, raw *countingConn, p []byte) int64 {
	t.Helper()
	got := make([]byte, len(p))
	var wg sync.WaitGroup
	var rerr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		_, rerr = io.ReadFull(to, got)
	}()
	before := raw.writes.Load()
	n, err := from.Write(p)
	require.NoError(t, err)
	require.Equal(t, len(p), n)
	wg.Wait()
	require.NoError(t, rerr)
	require.True(t, bytes.Equal(p, got), "what was read differs from what was written")
	return raw.writes.Load() - before
}

func random(t *testing.T, n int) []byte {
	p := make([]byte, n)
	_, err := rand.Read(p)
	require.NoError(t, err)
	return p
}

// A 100 KiB write is sealed into 16 KiB records (smaller ones while the
// connection is new): plain TLS writes each to the socket, a corked
// connection writes them all at once, in both directions.
func TestOneWritePerWrite(t *testing.T) {
	p := random(t, 100<<10)

	server, client, sraw, craw := pair(t, plain, plain)
	assert.Greater(t, writeAndRead(t, server, client, sraw, p), int64(6), "plain TLS: a write per record")

	server, client, sraw, craw = pair(t, Credentials, Credentials)
	assert.Equal(t, int64(1), writeAndRead(t, server, client, sraw, p))
	assert.Equal(t, int64(1), writeAndRead(t, client, server, craw, p))
	// Small writes are written as they are.
	assert.Equal(t, int64(1), writeAndRead(t, server, client, sraw, []byte("x")))
}

// A write whose records exceed maxHeld is written in pieces of at most
// maxHeld bytes: 600 KiB in full 16 KiB records (the connection warmed
// up), 15 records to a piece, is 3 writes.
func TestLargeWriteInPieces(t *testing.T) {
	server, client, sraw, _ := pair(t, Credentials, plain)
	writeAndRead(t, server, client, sraw, random(t, 256<<10)) // past TLS's small first records
	sraw.max.Store(0)
	assert.Equal(t, int64(3), writeAndRead(t, server, client, sraw, random(t, 600<<10)))
	assert.LessOrEqual(t, sraw.max.Load(), int64(maxHeld))
}

// A failed write of the gathered records fails the Write with nothing
// written, and every later write with the same error.
func TestFailedWriteIsPermanent(t *testing.T) {
	server, _, sraw, _ := pair(t, Credentials, plain)
	sraw.fail.Store(true)
	n, err := server.Write([]byte("hello"))
	assert.ErrorIs(t, err, errBroken)
	assert.Equal(t, 0, n)
	sraw.fail.Store(false)
	before := sraw.writes.Load()
	n, err = server.Write([]byte("again"))
	assert.ErrorIs(t, err, errBroken)
	assert.Equal(t, 0, n)
	assert.Equal(t, before, sraw.writes.Load(), "nothing more reached the socket")
}

// A failed handshake is returned as the inner credentials return it.
func TestHandshakeFailure(t *testing.T) {
	_, scfg, _ := testtls.Must(t)
	a, b := net.Pipe()
	defer a.Close()
	go func() { _, _ = b.Write([]byte("GET / HTTP/1.1\r\n\r\n")); b.Close() }()
	_, _, err := Credentials(credentials.NewTLS(scfg)).ServerHandshake(a)
	assert.Error(t, err)
}

func TestClone(t *testing.T) {
	_, scfg, _ := testtls.Must(t)
	c := Credentials(credentials.NewTLS(scfg)).Clone()
	assert.IsType(t, &creds{}, c)
	assert.Equal(t, "tls", c.Info().SecurityProtocol)
}

// stuckConn is a raw connection whose writes, once stuck is set, block
// until it is closed, as to a peer that reads nothing.
type stuckConn struct {
	net.Conn
	stuck   atomic.Bool
	entered chan struct{}
	closed  chan struct{}
	once    sync.Once
}

func (c *stuckConn) Write(p []byte) (int, error) {
	if c.stuck.Load() {
		c.entered <- struct{}{}
		<-c.closed
		return 0, net.ErrClosed
	}
	return c.Conn.Write(p)
}

func (c *stuckConn) Close() error {
	c.once.Do(func() { close(c.closed) })
	return c.Conn.Close()
}

// Close ends a Write whose gathered records are blocked on the socket, as
// it ends a blocked Write of plain TLS, instead of queueing its goodbye
// alert behind it.
func TestCloseEndsABlockedWrite(t *testing.T) {
	_, scfg, ccfg := testtls.Must(t)
	a, b := net.Pipe()
	raw := &stuckConn{Conn: a, entered: make(chan struct{}, 1), closed: make(chan struct{})}
	type result struct {
		conn net.Conn
		err  error
	}
	done := make(chan result, 1)
	go func() {
		conn, _, err := Credentials(credentials.NewTLS(scfg)).ServerHandshake(raw)
		done <- result{conn, err}
	}()
	client, _, err := credentials.NewTLS(ccfg).ClientHandshake(context.Background(), "localhost", b)
	require.NoError(t, err)
	defer client.Close()
	go func() { _, _ = io.Copy(io.Discard, client) }() // the client reads its half (tickets, alerts)
	r := <-done
	require.NoError(t, r.err)

	raw.stuck.Store(true)
	wrote := make(chan error, 1)
	go func() {
		_, err := r.conn.Write([]byte("stuck"))
		wrote <- err
	}()
	<-raw.entered
	require.NoError(t, r.conn.Close())
	assert.Error(t, <-wrote)
}
