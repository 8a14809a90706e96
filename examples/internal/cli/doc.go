// Package cli holds what the example programs share: TLS files turned into
// *tls.Config, the -routers list, etcd discovery and registration, signal
// handling, the first line every listening program prints, the JSON summary
// and the telemetry flags (-metrics-addr, -agent-addr). It keeps each
// program's main.go about its own job.
package cli
