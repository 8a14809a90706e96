// Package discoveryflag holds the example programs' flags for finding
// routers: a -routers list, or router registrations in etcd (-etcd,
// -etcd-prefix), and the registration a router makes there. It is apart
// from package cli so that programs that find no routers (the nozzle) do
// not compile etcd's client.
package discoveryflag
