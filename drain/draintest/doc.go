// Package draintest holds real syslog drain receivers for tests: Server,
// an RFC 6587 octet-counting receiver over TCP or TLS that parses every
// RFC 5424 message into its fields (Parse), and HTTPHandler, the same for
// HTTPS drains. Tests compare what arrived, field by field, with what was
// sent.
//
// Server.Stop stops gracefully and loses nothing a client wrote: it
// half-closes each connection (TCP FIN or TLS close_notify) and reads on
// until the client closes its side; a drain notices the half-close and
// reconnects. Server.Kill cuts the connections, as a crashing receiver
// would. Either way Start brings the Server back on the same address.
package draintest
