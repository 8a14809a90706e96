package forward

import "google.golang.org/grpc"

// tlsFailingLocked (under mu) counts the routers whose last TLS handshake
// failed.
func (p *Pool) tlsFailingLocked() int {
	n := 0
	for _, r := range p.routers {
		if !r.removed && p.tlsWatch.Failing(r.ep.Addr) {
			n++
		}
	}
	return n
}

// checkTLS logs, once per episode, that every router the pool knows fails
// the TLS handshake: then nothing can be sent until the TLS settings of
// the pool or of the routers change. Called after each connection attempt.
func (p *Pool) checkTLS() {
	p.mu.Lock()
	routers := 0
	for _, r := range p.routers {
		if !r.removed {
			routers++
		}
	}
	failing := p.tlsFailingLocked()
	all := routers > 0 && failing == routers
	report := all && !p.tlsAllFailing
	p.tlsAllFailing = all
	p.mu.Unlock()
	if report {
		p.cfg.logger.Warn("forward: every router fails the TLS handshake: nothing can be sent until the TLS settings match",
			"routers", routers, "tls_failures", p.tlsWatch.Failures())
	}
}

// routerCreds is the dial option of the connection to the router at addr:
// the pool's transport credentials, watched under the router's address.
func (p *Pool) routerCreds(addr string) grpc.DialOption {
	return grpc.WithTransportCredentials(p.tlsWatch.ClientCredentials(p.creds, addr))
}
