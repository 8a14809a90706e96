// Package discovery tells sluice's pool and nozzles where the routers are,
// from static lists, DNS and etcd, and how fresh that knowledge is.
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
//   - Watcher: follows registrations in etcd that routers keep with a
//     Registrar; changes arrive within milliseconds, and a re-read every
//     interval confirms the set and catches a wiped etcd.
//   - First and FirstWithin: combine sources in order of preference, for
//     example First(watcher, static).
//   - Poll: any lookup function of your own, with the same freshness rules.
//
// # etcd layout
//
// A Registrar writes one key per endpoint, in the layout of Loggregator's
// /doppler/meta/<zone>/<job>/<id>:
//
//	<prefix>/<zone>/<job>/<id>    e.g. /sluice/meta/z1/router/r1
//
// where prefix defaults to DefaultPrefix, an empty zone is written "_", job
// defaults to "router" and id is Endpoint.Key. The value is JSON with a
// version and the endpoint list:
//
//	{"version":1,"endpoints":[{"id":"r1","addr":"10.0.0.5:8082","zone":"z1","metadata":{"job":"router"}}]}
//
// The key is attached to a lease of the Registrar's TTL (default 10s) that
// it keeps alive; when the router dies the key disappears within the TTL
// (plus up to 500ms, etcd's expiry check). The Registrar repairs its
// registration by itself: it watches its key and puts it back when deleted,
// grants a new lease when the old one is lost, and every TTL/3 reads the key
// back, which also catches an etcd whose data was wiped and restarted.
// Loggregator-style values whose endpoints are URL strings
// ("tcp://10.0.0.5:3458") are read too.
//
// Registrar and Watcher take a *clientv3.Client owned by the caller;
// EtcdConfig gives a quiet configuration that reconnects quickly. Package
// discoverytest starts an embedded etcd and a DNS server for tests.
//
// # Writing your own
//
// To read from Consul, Kubernetes or anything else, write a LookupFunc and
// pass it to Poll, which does the bookkeeping: a lookup that fails or finds
// nothing keeps the last good set and reports the error. A push-based
// source can implement Source directly; it must send the current State on
// Subscribe, coalesce, close the channel when ctx ends, and keep its last
// good set on errors.
package discovery
