// Package plumbing holds the gRPC services of Loggregator's v1 router (proto
// package plumbing): DopplerIngestor, which takes v1 envelopes from agents
// (/plumbing.DopplerIngestor/Pusher, a client stream of EnvelopeData), and
// Doppler, which streams them to subscribers (/plumbing.Doppler/Subscribe and
// /plumbing.Doppler/BatchSubscribe), with their messages.
//
// Each payload is a marshaled events.Envelope (package
// github.com/sluicelog/sluice/dropsonde/events). The Go code is generated
// from plumbing.proto in this directory; regenerate with
// `go generate ./dropsonde/plumbing`. Descriptors are registered in the
// package-local registries returned by Files and Types, so this package links
// beside Loggregator's own plumbing package.
package plumbing
