package authz

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"strings"

	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
)

var (
	// ErrDenied wraps the error of a request its identity may not make.
	ErrDenied = errors.New("authz: permission denied")
	// ErrUnauthenticated wraps the error of a request that carries no
	// identity the authorizer knows.
	ErrUnauthenticated = errors.New("authz: unauthenticated")
	// ErrInvalidConfig wraps invalid arguments given to this package's
	// constructors, and invalid policy files.
	ErrInvalidConfig = errors.New("authz: invalid configuration")
)

// Identity is who the caller is, as the transport proved it.
type Identity struct {
	// Subject is the verified client certificate's subject in RFC 2253
	// form ("CN=nozzle,O=acme"); empty without one.
	Subject string
	// Names are the verified client certificate's subject alternative
	// names: DNS names, URIs and email addresses.
	Names []string
	// Token is the bearer token the request carried (without "Bearer ").
	Token string
}

// Empty reports whether the identity carries nothing.
func (id Identity) Empty() bool { return id.Subject == "" && len(id.Names) == 0 && id.Token == "" }

// Request is what a caller asks to read.
type Request struct {
	// SourceIDs are the distinct source IDs the request's selectors name.
	SourceIDs []string
	// Firehose is set when some selector names no source ID: the request
	// reads every source.
	Firehose bool
	// ShardID is the shard group the request joins ("" for none).
	ShardID string
}

// Authorizer decides whether an identity may make a request. It is called
// once per stream, before subscribing, from many goroutines at once.
type Authorizer interface {
	Authorize(ctx context.Context, id Identity, req Request) error
}

// AuthorizerFunc adapts a function to an Authorizer.
type AuthorizerFunc func(ctx context.Context, id Identity, req Request) error

// Authorize calls f(ctx, id, req).
func (f AuthorizerFunc) Authorize(ctx context.Context, id Identity, req Request) error {
	return f(ctx, id, req)
}

// Open returns an Authorizer that allows every request.
func Open() Authorizer {
	return AuthorizerFunc(func(context.Context, Identity, Request) error { return nil })
}

var _ Authorizer = AuthorizerFunc(nil)

// FromTLS returns the identity of a verified client certificate in cs
// (nil or no verified chain: the empty identity).
func FromTLS(cs *tls.ConnectionState) Identity {
	if cs == nil || len(cs.VerifiedChains) == 0 || len(cs.VerifiedChains[0]) == 0 {
		return Identity{}
	}
	c := cs.VerifiedChains[0][0]
	id := Identity{Subject: c.Subject.String()}
	id.Names = append(id.Names, c.DNSNames...)
	for _, u := range c.URIs {
		id.Names = append(id.Names, u.String())
	}
	id.Names = append(id.Names, c.EmailAddresses...)
	return id
}

// FromGRPC returns the identity of a gRPC call: the verified client
// certificate of its connection, and the bearer token of its
// "authorization" metadata.
func FromGRPC(ctx context.Context) Identity {
	var id Identity
	if p, ok := peer.FromContext(ctx); ok {
		if ti, ok := p.AuthInfo.(credentials.TLSInfo); ok {
			id = FromTLS(&ti.State)
		}
	}
	if md, ok := metadata.FromIncomingContext(ctx); ok {
		if v := md.Get("authorization"); len(v) > 0 {
			id.Token = bearer(v[0])
		}
	}
	return id
}

// FromHTTP returns the identity of an HTTP request: the verified client
// certificate of its connection, and the token of its Authorization
// header ("Bearer <token>", any case of "bearer"; Loggregator's clients
// send it so).
func FromHTTP(r *http.Request) Identity {
	id := FromTLS(r.TLS)
	id.Token = bearer(r.Header.Get("Authorization"))
	return id
}

func bearer(v string) string {
	v = strings.TrimSpace(v)
	if len(v) > 7 && strings.EqualFold(v[:7], "bearer ") {
		return strings.TrimSpace(v[7:])
	}
	return ""
}

// Loopback reports whether the listen or local address addr (host:port, or
// a bare host) is on loopback only. An empty host (":8080") or an
// unspecified one ("0.0.0.0") binds every interface: not loopback.
func Loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
