package serve

import (
	"errors"
	"os"
	"time"

	"github.com/sluicelog/sluice/stats"
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

// countLost counts, under shard, a frame that could not be written
// because of err.
func (g *Gateway) countLost(shard string, err error, n, malformed int) {
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		g.count(shard, 0, n, malformed)
		return
	}
	g.mu.Lock()
	g.drop(shard, CauseWriteTimeout, n)
	g.drop(shard, CauseMalformed, malformed)
	g.mu.Unlock()
}

// drop (under g.mu) counts n envelopes dropped for cause, in total and
// under shard.
func (g *Gateway) drop(shard, cause string, n int) {
	if n <= 0 {
		return
	}
	g.dropped.Add(cause, uint64(n))
	if g.byShard == nil {
		g.byShard = make(map[string]stats.Drops)
	}
	d := g.byShard[shard]
	d.Add(cause, uint64(n))
	g.byShard[shard] = d
}

// evicted counts and logs a stream that ended because a write (a data
// frame or a heartbeat) hit the write timeout: its client reads nothing.
func (g *Gateway) evicted(err error, shard, peer string) {
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		return
	}
	g.mu.Lock()
	closing := g.draining // Close cuts writes with the same deadline
	if !closing {
		g.evictions++
	}
	g.mu.Unlock()
	if closing {
		return
	}
	g.cfg.logger.Warn("serve: gateway evicted a client that is not reading", "shard_id", shard, "peer", peer, "write_timeout", g.cfg.writeTimeout)
}
