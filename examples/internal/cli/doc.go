// Package cli holds what the example programs share: TLS files turned into
// *tls.Config, where the routers are (-routers, -dns or -etcd), the etcd
// client, signal handling, the first line every listening program prints,
// the JSON summary, and the HTTP listeners of the gateway and /metrics. It
// keeps each program's main.go about its own composition.
package cli
