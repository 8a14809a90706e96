// Package cli holds what the example programs share: TLS files turned into
// *tls.Config, signal handling, the first line every listening program
// prints, the JSON summary, the HTTP listener of the gateway and the
// telemetry flags (-metrics-addr, -agent-addr). It keeps each program's
// main.go about its own composition. The flags for finding routers are in
// package discoveryflag.
package cli
