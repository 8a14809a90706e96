// Command loadgen sends envelopes to a loggregator.v2 Ingress server (a
// sluice agent or router) at a steady rate for a duration, then flushes and
// writes a JSON summary. See README.md.
package main
