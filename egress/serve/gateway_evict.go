package serve

import (
	"errors"
	"os"
	"time"
)

// CauseWriteTimeout: a Gateway could not write the envelope within the
// write timeout (its client reads nothing) and evicted the client.
const CauseWriteTimeout = "write_timeout"

// DefaultWriteTimeout is how long a Gateway waits for one frame to be
// written before it evicts a client that does not read.
const DefaultWriteTimeout = 10 * time.Second

// WithWriteTimeout sets how long a Gateway waits for one frame (data or
// heartbeat) to be written (default DefaultWriteTimeout; 0: forever). A
// client that reads nothing for that long is evicted: its stream ends, the
// frame is counted as dropped with cause CauseWriteTimeout, and what its
// subscription still held is counted by the Router under its shard ID.
func WithWriteTimeout(d time.Duration) GatewayOption {
	return gatewayOptionFunc(func(c *gatewayConfig) { c.writeTimeout = d })
}

// countLost counts a frame that could not be written because of err.
func (g *Gateway) countLost(err error, n, malformed int) {
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		g.count(0, n, malformed)
		return
	}
	g.mu.Lock()
	g.dropped.Add(CauseWriteTimeout, uint64(n))
	g.dropped.Add(CauseMalformed, uint64(malformed))
	g.mu.Unlock()
}
