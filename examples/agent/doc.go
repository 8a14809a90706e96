// Command agent is a sluice agent (Loggregator's forwarder agent): an Ingress
// server for local emitters whose envelopes it batches to routers over a
// pool of streams, local zone first. See README.md.
package main
