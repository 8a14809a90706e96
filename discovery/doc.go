// Package discovery tells sluice's pool and nozzles where the routers are,
// from static lists, DNS or a registry, and how fresh that knowledge is.
//
// It knows addresses and availability zones, not envelopes: an Endpoint is
// an address to dial with a zone, an identity and free-form metadata.
//
// # The Source contract and freshness
//
// Every source implements Source. Subscribe sends the current State at once
// and then each change of the endpoint set or of the error status; a slow
// receiver gets the latest State, never a backlog. State returns the latest
// State without waiting.
//
// A State carries the set, when the source last confirmed it (Confirmed) and
// the last error (Err). A source that fails keeps its last good set, sets Err
// and stops advancing Confirmed, so State.Age grows. An empty answer is
// treated as a failure too (ErrNoEndpoints) unless the source was built with
// WithAllowEmpty: a broken registry that suddenly knows nothing must not tear
// down connections to routers that work. This is the rule Cloud Foundry's
// health manager followed, acting only on fresh state; here the source
// reports and the consumer decides, for example with State.Fresh.
//
// Endpoint sets are sorted by Endpoint.Key and hold each identity once.
//
// # Choosing a source
//
//   - Static: a fixed list, changed with Static.Set. For tests and small
//     setups, and as the last fallback.
//   - DNS: A/AAAA (and SRV) lookups on an interval. WithZoneName makes it try
//     a name for the local availability zone first, as Loggregator's agents
//     do, and fall back to the general name only when that finds nothing.
//   - etcd.Watcher, in package discovery/etcd: follows registrations in etcd
//     that routers keep with an etcd.Registrar. It lives in its own package
//     so that only programs that use etcd compile etcd's client.
//   - First and FirstWithin: combine sources in order of preference, for
//     example First(watcher, static).
//   - Poll: any lookup function of your own, with the same freshness rules.
//   - Feed: a source of your own that is told what it found, for
//     registries that push changes; etcd.Watcher is built on it.
//
// # Writing your own
//
// To read from Consul, Kubernetes or anything else, write a LookupFunc and
// pass it to Poll, which does the bookkeeping: a lookup that fails or finds
// nothing keeps the last good set and reports the error. A push-based
// source reports to a Feed, which keeps the same books. A source can also
// implement Source directly; it must send the current State on Subscribe,
// coalesce, close the channel when ctx ends, and keep its last good set on
// errors.
//
// # Configuration errors and lifecycle
//
// Constructors return errors that wrap ErrInvalidConfig for arguments they
// cannot work with, and skip nil options. Sources that run a goroutine
// (Poller, DNS) stop with Shutdown(ctx) or Close(), which waits for it and
// may be called more than once.
package discovery
