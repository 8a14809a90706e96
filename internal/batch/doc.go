// Package batch turns a buffer of items into batches: by size, by age, and
// with an idle flush so that a trickle is not held back. Every sluice
// component that batches (the ingress client, the forwarder, the egress
// server) runs this one loop.
package batch
