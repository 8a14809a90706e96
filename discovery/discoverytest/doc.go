// Package discoverytest starts the servers that discovery talks to, on
// loopback, for tests: an embedded etcd (StartEtcd) that can be stopped,
// restarted on the same ports and wiped, and a DNS server (StartDNS) whose
// records can be changed while it runs.
//
// WaitKeys, Keys and Next help tests wait on any discovery.Source.
//
// Both servers clean up after themselves through t.Cleanup and keep quiet: etcd's
// logging goes to a no-op logger.
package discoverytest
