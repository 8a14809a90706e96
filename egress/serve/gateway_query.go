package serve

import (
	"fmt"
	"net/http"
)

// RefusedQueryLength: a gateway request whose URL query was longer than
// WithMaxQueryBytes, answered with 400 (a key of GatewayStats.Refused).
const RefusedQueryLength = "query_too_long"

// DefaultMaxQueryBytes is the longest URL query a Gateway reads: room for
// about a hundred source IDs, far below what would make parsing the query
// and building its selectors cost a router anything.
const DefaultMaxQueryBytes = 8 << 10

// WithMaxQueryBytes sets the longest URL query (the raw bytes after "?") a
// Gateway reads (default DefaultMaxQueryBytes). A longer one is refused
// before it is parsed, with 400 and the JSON error "query_too_long", and
// counted in GatewayStats.Refused under RefusedQueryLength (and in
// RejectedStreams). Consumers that read many source IDs use several
// streams, or the gRPC Egress server.
func WithMaxQueryBytes(n int) GatewayOption {
	return gatewayOptionFunc(func(c *gatewayConfig) { c.maxQuery = n })
}

// checkQueryLength refuses (and counts) a query longer than the limit; it
// reports whether the request may go on.
func (g *Gateway) checkQueryLength(w http.ResponseWriter, r *http.Request) bool {
	if n := len(r.URL.RawQuery); n > g.cfg.maxQuery {
		g.mu.Lock()
		g.refusals.add(RefusedQueryLength)
		g.mu.Unlock()
		g.cfg.logger.Info("serve: gateway request refused", "cause", RefusedQueryLength, "bytes", n, "peer", r.RemoteAddr)
		g.fail(w, gatewayError{http.StatusBadRequest,
			fmt.Sprintf("query is %d bytes long, at most %d", n, g.cfg.maxQuery), RefusedQueryLength})
		return false
	}
	return true
}
