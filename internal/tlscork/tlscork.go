package tlscork

import (
	"context"
	"net"
	"sync"
	"sync/atomic"

	"google.golang.org/grpc/credentials"
)

// maxHeld is how many sealed bytes a corked write gathers before writing
// them out (a write of the transport larger than this takes more than one
// system call).
const maxHeld = 256 << 10

// bufs holds gathering buffers between writes.
var bufs = sync.Pool{New: func() any { b := make([]byte, 0, 64<<10); return &b }}

// Credentials returns c whose connections, server and client side, write
// the TLS records of each write in one system call. c must be credentials
// that wrap the raw connection (TLS does); the handshake itself is not
// corked.
func Credentials(c credentials.TransportCredentials) credentials.TransportCredentials {
	return &creds{TransportCredentials: c}
}

type creds struct {
	credentials.TransportCredentials
}

func (c *creds) ServerHandshake(raw net.Conn) (net.Conn, credentials.AuthInfo, error) {
	cork := &corkConn{Conn: raw}
	conn, info, err := c.TransportCredentials.ServerHandshake(cork)
	if err != nil {
		return conn, info, err
	}
	return &Conn{Conn: conn, cork: cork}, info, nil
}

func (c *creds) ClientHandshake(ctx context.Context, authority string, raw net.Conn) (net.Conn, credentials.AuthInfo, error) {
	cork := &corkConn{Conn: raw}
	conn, info, err := c.TransportCredentials.ClientHandshake(ctx, authority, cork)
	if err != nil {
		return conn, info, err
	}
	return &Conn{Conn: conn, cork: cork}, info, nil
}

func (c *creds) Clone() credentials.TransportCredentials {
	return &creds{TransportCredentials: c.TransportCredentials.Clone()}
}

// Conn is a secured connection whose writes are corked: what the secured
// connection writes to the raw one during a Write is gathered and written
// in one call when the Write is done.
type Conn struct {
	net.Conn
	cork    *corkConn
	writing atomic.Int32 // Writes in flight
}

// Write writes p through the secured connection, corked.
func (c *Conn) Write(p []byte) (int, error) {
	c.writing.Add(1)
	defer c.writing.Add(-1)
	c.cork.hold()
	n, err := c.Conn.Write(p)
	if ferr := c.cork.release(); ferr != nil && err == nil {
		// The records were sealed but not sent: the connection is broken
		// (the caller closes it), and none of p is known to have left.
		return 0, ferr
	}
	return n, err
}

// Close closes the connection. While a Write is in flight (its gathered
// records may be blocked on a peer that reads nothing) the raw connection
// is closed first, which ends the Write at once: the secured connection's
// goodbye alert would otherwise wait behind it. crypto/tls does the same
// for its own Writes.
func (c *Conn) Close() error {
	if c.writing.Load() > 0 {
		err := c.cork.Conn.Close()
		_ = c.Conn.Close()
		return err
	}
	return c.Conn.Close()
}

// corkConn is the raw connection under the secured one. While held it
// gathers what is written instead of writing it; writes from other
// goroutines (an alert, a key update answer) join the gathered bytes in
// the order they came.
type corkConn struct {
	net.Conn
	mu   sync.Mutex
	held bool
	buf  *[]byte // from bufs while something is gathered
	// err is the first failed write of gathered bytes: the secured
	// connection took them as sent, so every later write fails with it.
	err error
}

func (c *corkConn) hold() {
	c.mu.Lock()
	c.held = true
	c.mu.Unlock()
}

// release writes what was gathered and stops gathering.
func (c *corkConn) release() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.held = false
	return c.flushLocked()
}

func (c *corkConn) flushLocked() error {
	if c.buf == nil {
		return c.err
	}
	b := c.buf
	c.buf = nil
	if c.err == nil && len(*b) > 0 {
		_, c.err = c.Conn.Write(*b)
	}
	*b = (*b)[:0]
	bufs.Put(b)
	return c.err
}

func (c *corkConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return 0, c.err
	}
	if !c.held {
		return c.Conn.Write(p)
	}
	if c.buf != nil && len(*c.buf)+len(p) > maxHeld {
		if err := c.flushLocked(); err != nil {
			return 0, err
		}
	}
	if c.buf == nil {
		c.buf = bufs.Get().(*[]byte)
	}
	*c.buf = append(*c.buf, p...)
	return len(p), nil
}
