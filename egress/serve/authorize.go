package serve

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/http"
	"slices"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/sluicelog/sluice/egress/authz"
	"github.com/sluicelog/sluice/envelope"
	"github.com/sluicelog/sluice/stats"
)

// Causes of requests refused by a Server's or a Gateway's authorizer or
// per-client limit (the keys of their Stats' Refused).
const (
	RefusedUnauthenticated = "unauthenticated"   // no identity the authorizer knows: Unauthenticated, 401
	RefusedDenied          = "permission_denied" // the identity may not: PermissionDenied, 403
	RefusedAuthzError      = "authz_error"       // the authorizer failed: Unavailable, 503
	RefusedClientStreams   = "too_many_client_streams"
)

// DefaultMaxClientStreams is how many streams one client (one identity, or
// one address for callers without one) may hold on a Server or a Gateway.
const DefaultMaxClientStreams = 100

// WithAuthorizer sets who may read what on a Server or a Gateway (nil
// keeps the default). Without it everybody reads everything, but only on
// loopback: a Server refuses to Serve or Start beyond loopback, and a
// Gateway refuses (403) requests that arrive beyond loopback, with an error
// wrapping ErrNoPolicy. It is
// asked once per stream, before subscribing, with the caller's identity
// (its verified client certificate, its bearer token) and the request's
// source IDs, firehose flag and shard ID.
func WithAuthorizer(a authz.Authorizer) StreamOption {
	set := func(dst *authz.Authorizer, chosen *bool) {
		if a != nil {
			*dst, *chosen = a, true
		}
	}
	return streamOption{
		server:  func(c *serverConfig) { set(&c.authorizer, &c.authorizerSet) },
		gateway: func(c *gatewayConfig) { set(&c.authorizer, &c.authorizerSet) },
	}
}

// ErrNoPolicy wraps the error of a Server asked to serve beyond loopback,
// and the refusal of a gateway request that came in beyond loopback, when
// no WithAuthorizer was given. Pass WithAuthorizer(authz.Open()) to serve
// everyone on purpose.
var ErrNoPolicy = errors.New("serve: no access policy for an address beyond loopback")

// checkOpen refuses addr beyond loopback when no authorizer was chosen.
func checkOpen(chosen bool, addr string) error {
	if chosen || authz.Loopback(addr) {
		return nil
	}
	return fmt.Errorf("%w (%s): give WithAuthorizer a policy, or authz.Open() to let everyone read everything", ErrNoPolicy, addr)
}

// WithMaxClientStreams sets how many streams one client may hold at once
// (default DefaultMaxClientStreams), so that no client takes every slot of
// WithMaxStreams. A client is its identity (certificate subject, first
// subject alternative name, or bearer token), or its IP address without
// one. More are refused with ResourceExhausted / 429.
func WithMaxClientStreams(n int) StreamOption {
	return streamOption{
		server:  func(c *serverConfig) { c.maxClient = n },
		gateway: func(c *gatewayConfig) { c.maxClient = n },
	}
}

// authzRequest is what req asks to read.
func authzRequest(req *envelope.EgressBatchRequest) authz.Request {
	sels, _ := envelope.RequestSelectors(req)
	out := authz.Request{ShardID: req.GetShardId()}
	seen := make(map[string]struct{}, len(sels))
	for _, s := range sels {
		id := s.GetSourceId()
		if id == "" {
			out.Firehose = true
			continue
		}
		if _, ok := seen[id]; !ok {
			seen[id] = struct{}{}
			out.SourceIDs = append(out.SourceIDs, id)
		}
	}
	return out
}

// authzCause classifies an authorizer's refusal.
func authzCause(err error) string {
	switch {
	case errors.Is(err, authz.ErrUnauthenticated):
		return RefusedUnauthenticated
	case errors.Is(err, authz.ErrDenied):
		return RefusedDenied
	}
	return RefusedAuthzError
}

// authzStatus is the gRPC status of a refusal of cause.
func authzStatus(cause string, err error) error {
	switch cause {
	case RefusedUnauthenticated:
		return status.Error(codes.Unauthenticated, err.Error())
	case RefusedDenied:
		return status.Error(codes.PermissionDenied, err.Error())
	}
	return status.Errorf(codes.Unavailable, "serve: authorizer: %v", err)
}

// authzHTTP is the gateway answer to a refusal of cause.
func authzHTTP(cause string, err error) gatewayError {
	switch cause {
	case RefusedUnauthenticated:
		return gatewayError{http.StatusUnauthorized, err.Error(), "unauthenticated"}
	case RefusedDenied:
		return gatewayError{http.StatusForbidden, err.Error(), "forbidden"}
	}
	return gatewayError{http.StatusServiceUnavailable, fmt.Sprintf("serve: authorizer: %v", err), "unavailable"}
}

// clientKey names the client that per-client limits count: its identity,
// else its IP address.
func clientKey(id authz.Identity, addr string) string {
	switch {
	case id.Subject != "":
		return "subject:" + id.Subject
	case len(id.Names) > 0:
		return "name:" + id.Names[0]
	case id.Token != "":
		h := sha256.Sum256([]byte(id.Token))
		return "token:" + hex.EncodeToString(h[:8])
	}
	if host, _, err := net.SplitHostPort(addr); err == nil {
		return "ip:" + host
	}
	return "ip:" + addr
}

func grpcClientAddr(ctx context.Context) string {
	if p, ok := peer.FromContext(ctx); ok && p.Addr != nil {
		return p.Addr.String()
	}
	return ""
}

// refusals counts refused requests by cause and streams by client; its
// owner (Server, Gateway) guards it with its lock.
type refusals struct {
	refused map[string]uint64
	clients map[string]int
}

func (r *refusals) add(cause string) {
	if r.refused == nil {
		r.refused = make(map[string]uint64)
	}
	r.refused[cause]++
}

// acquire takes one of max stream slots of client, or reports false.
func (r *refusals) acquire(client string, max int) bool {
	if r.clients == nil {
		r.clients = make(map[string]int)
	}
	if r.clients[client] >= max {
		return false
	}
	r.clients[client]++
	return true
}

func (r *refusals) release(client string) {
	if r.clients[client]--; r.clients[client] <= 0 {
		delete(r.clients, client)
	}
}

func (r *refusals) snapshot() map[string]uint64 { return maps.Clone(r.refused) }

// reportRefused emits refused_requests{cause} for each cause in refused.
func reportRefused(emit func(stats.Metric), refused map[string]uint64) {
	for _, c := range slices.Sorted(maps.Keys(refused)) {
		emit(stats.CounterOf("refused_requests", "Requests refused by a limit or an authorizer, by cause (also in rejected_streams).",
			refused[c], stats.Tag{Key: stats.TagCause, Value: c}))
	}
}
