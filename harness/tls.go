package harness

import "crypto/tls"

// ClientTLS returns the client TLS config (mutual TLS) the topology's own
// clients use, nil when it runs in plaintext: for a caller that adds a
// client of its own, such as another nozzle on the proxy.
func (t *Topology) ClientTLS() *tls.Config { return t.clientTLS }
