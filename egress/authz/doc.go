// Package authz decides who may read what from egress: one seam, the
// Authorizer, that the gRPC Egress server, the HTTP gateway and any other
// egress endpoint call once per request with the caller's Identity (a
// verified client certificate, a bearer token) and the Request (source IDs,
// whether it asks for every source ID, its shard ID).
//
// # Decisions
//
// Authorize returns nil to allow. To refuse it returns an error wrapping
// ErrDenied (gRPC PermissionDenied, HTTP 403) or ErrUnauthenticated (no
// usable identity: gRPC Unauthenticated, HTTP 401); the error's text is the
// reason the caller sees. Any other error (an introspection endpoint that
// does not answer) is answered Unavailable / 503.
//
// # Shard IDs
//
// Members of a shard group share its stream: whoever joins a group takes a
// share of what its other members would have read. So a grant names the
// shard IDs its holders may use, and a request with a shard ID outside its
// grant is refused: a group is joined only by identities granted its shard
// ID. An empty shard ID (a group of one) is always allowed; "*" grants
// every shard ID and is meant for administrators.
//
// # Shipped authorizers
//
// Policy is a grant table loaded from a JSON file and reloaded on demand
// (the example programs reload it on SIGHUP). Introspector checks bearer
// tokens against an OAuth2 token introspection endpoint (RFC 7662, which
// UAA serves) with a bounded cache. Open allows everything: what a library
// user gets by default, meant for loopback and tests. AuthorizerFunc adapts
// a function, e.g. one that asks UAA and Cloud Controller.
package authz
