// Command router is a sluice router (Loggregator's doppler): Ingress and
// Egress on one gRPC address, optionally the HTTP/SSE gateway, optionally
// registered in etcd so agents and proxies find it. See README.md.
package main
