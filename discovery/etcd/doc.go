// Package etcd keeps routers registered in etcd and tells agents and
// nozzles which routers are registered: a Registrar holds one endpoint's
// key alive on a lease, a Watcher is a discovery.Source that follows every
// key under a prefix.
//
// It is a package of its own so that only programs that use etcd compile
// etcd's client (and its logger, zap); package discovery and everything
// built on it do not.
//
// # Key layout
//
// A Registrar writes one key per endpoint, in the layout of Loggregator's
// /doppler/meta/<zone>/<job>/<id>:
//
//	<prefix>/<zone>/<job>/<id>    e.g. /sluice/meta/z1/router/r1
//
// where prefix defaults to DefaultPrefix, an empty zone is written "_", job
// defaults to "router" and id is Endpoint.Key. The value is a Registration
// in JSON, with a version and the endpoint list:
//
//	{"version":1,"endpoints":[{"id":"r1","addr":"10.0.0.5:8082","zone":"z1","metadata":{"job":"router"}}]}
//
// Loggregator-style values whose endpoints are URL strings
// ("tcp://10.0.0.5:3458") are read too.
//
// # Leases and repair
//
// The key is attached to a lease that the Registrar keeps alive; when the
// router dies the key disappears within the TTL (WithTTL, default 10s).
// The Registrar repairs its registration by itself: it watches its key and
// puts it back when deleted, grants a new lease when the old one is lost,
// and every TTL/3 reads the key back, which also catches an etcd whose data
// was wiped and restarted.
//
// The Watcher reads the prefix and watches it from the revision it read;
// changes arrive within milliseconds. Every interval (WithInterval) it reads
// the prefix again, which confirms the set (State.Confirmed) or, when etcd
// is down, reports the error while keeping the last good set, as every
// discovery source does.
//
// # Clients, errors and lifecycle
//
// Registrar and Watcher take a *clientv3.Client owned by the caller;
// ClientConfig gives a quiet configuration that reconnects quickly.
// Constructors return errors that wrap ErrInvalidConfig for arguments they
// cannot work with, and skip nil options. Both stop with Shutdown(ctx)
// (the Registrar's revokes its lease, so watchers drop it at once) or
// Close() (immediate, waits for the goroutine, safe to call twice). Package
// discovery/discoverytest starts an embedded etcd for tests.
package etcd
