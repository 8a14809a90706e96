// Package tlswatch makes a gRPC server's failed TLS handshakes visible:
// it wraps the server's transport credentials, counts every failed
// handshake by cause and logs it through the component's logger at warn,
// once per peer address per episode (an episode ends with a successful
// handshake from that address, or a minute without failures; a peer that
// just closes, such as a TCP health check, is logged at debug), instead of
// leaving it to grpc's global logger. A client's handshakes with its peers
// are watched the same way: ClientCredentials for gRPC, HTTPTransport for
// an http.Transport.
package tlswatch
