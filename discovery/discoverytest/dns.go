package discoverytest

import (
	"context"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/miekg/dns"
)

// DNS is an authoritative DNS server on a loopback UDP port whose records
// can be changed while it runs. It answers A, AAAA and SRV questions for the
// names it holds, an empty answer for other types of those names, and
// NXDOMAIN for anything else.
type DNS struct {
	t    testing.TB
	addr string

	mu      sync.Mutex
	records map[string][]dns.RR // by lower-case FQDN
	server  *dns.Server
	done    chan struct{}
}

// SRV is one SRV record for SetSRV.
type SRV struct {
	Target   string
	Port     uint16
	Priority uint16
	Weight   uint16
}

// StartDNS starts a DNS server on a free loopback UDP port. It is stopped
// when the test ends.
func StartDNS(t testing.TB) *DNS {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("discoverytest: dns listen: %v", err)
	}
	d := &DNS{t: t, addr: pc.LocalAddr().String(), records: make(map[string][]dns.RR)}
	t.Cleanup(d.Stop)
	d.serve(pc)
	return d
}

// Addr returns the server's "host:port".
func (d *DNS) Addr() string { return d.addr }

// Resolver returns a Go resolver that asks only this server.
func (d *DNS) Resolver() *net.Resolver {
	var dialer net.Dialer
	return &net.Resolver{
		PreferGo: true,
		Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return dialer.DialContext(ctx, network, d.addr)
		},
	}
}

func key(name string) string { return strings.ToLower(dns.Fqdn(name)) }

// SetA replaces the A and AAAA records of name with ips (IPv4 addresses
// become A records, IPv6 ones AAAA). No ips removes the name's addresses.
func (d *DNS) SetA(name string, ips ...string) {
	d.t.Helper()
	k := key(name)
	var rrs []dns.RR
	for _, s := range ips {
		ip := net.ParseIP(s)
		if ip == nil {
			d.t.Fatalf("discoverytest: bad IP %q", s)
		}
		hdr := dns.RR_Header{Name: k, Class: dns.ClassINET, Ttl: 0}
		if v4 := ip.To4(); v4 != nil {
			hdr.Rrtype = dns.TypeA
			rrs = append(rrs, &dns.A{Hdr: hdr, A: v4})
		} else {
			hdr.Rrtype = dns.TypeAAAA
			rrs = append(rrs, &dns.AAAA{Hdr: hdr, AAAA: ip})
		}
	}
	d.replace(k, rrs, dns.TypeA, dns.TypeAAAA)
}

// SetSRV replaces the SRV records of name. No records removes them.
func (d *DNS) SetSRV(name string, srvs ...SRV) {
	k := key(name)
	var rrs []dns.RR
	for _, s := range srvs {
		rrs = append(rrs, &dns.SRV{
			Hdr:    dns.RR_Header{Name: k, Rrtype: dns.TypeSRV, Class: dns.ClassINET},
			Target: dns.Fqdn(s.Target), Port: s.Port, Priority: s.Priority, Weight: s.Weight,
		})
	}
	d.replace(k, rrs, dns.TypeSRV)
}

// Remove deletes every record of name.
func (d *DNS) Remove(name string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.records, key(name))
}

func (d *DNS) replace(k string, rrs []dns.RR, types ...uint16) {
	d.mu.Lock()
	defer d.mu.Unlock()
	var keep []dns.RR
	for _, rr := range d.records[k] {
		drop := false
		for _, t := range types {
			drop = drop || rr.Header().Rrtype == t
		}
		if !drop {
			keep = append(keep, rr)
		}
	}
	keep = append(keep, rrs...)
	if len(keep) == 0 {
		delete(d.records, k)
		return
	}
	d.records[k] = keep
}

func (d *DNS) handle(w dns.ResponseWriter, req *dns.Msg) {
	m := new(dns.Msg)
	m.SetReply(req)
	m.Authoritative = true
	d.mu.Lock()
	for _, q := range req.Question {
		rrs, ok := d.records[strings.ToLower(q.Name)]
		if !ok {
			m.Rcode = dns.RcodeNameError
			continue
		}
		for _, rr := range rrs {
			if rr.Header().Rrtype == q.Qtype {
				m.Answer = append(m.Answer, dns.Copy(rr))
			}
		}
	}
	d.mu.Unlock()
	_ = w.WriteMsg(m)
}

func (d *DNS) serve(pc net.PacketConn) {
	mux := dns.NewServeMux()
	mux.HandleFunc(".", d.handle)
	srv := &dns.Server{PacketConn: pc, Handler: mux}
	started := make(chan struct{})
	srv.NotifyStartedFunc = func() { close(started) }
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.ActivateAndServe()
	}()
	<-started
	d.mu.Lock()
	d.server, d.done = srv, done
	d.mu.Unlock()
}

// Stop stops the server; queries are refused until Start. The records are
// kept. Stopping a stopped server does nothing.
func (d *DNS) Stop() {
	d.mu.Lock()
	srv, done := d.server, d.done
	d.server, d.done = nil, nil
	d.mu.Unlock()
	if srv == nil {
		return
	}
	_ = srv.Shutdown()
	<-done
}

// Start starts a stopped server again on the same address.
func (d *DNS) Start() {
	d.t.Helper()
	d.mu.Lock()
	running := d.server != nil
	d.mu.Unlock()
	if running {
		return
	}
	pc, err := net.ListenPacket("udp", d.addr)
	if err != nil {
		d.t.Fatalf("discoverytest: dns listen again on %s: %v", d.addr, err)
	}
	d.serve(pc)
}
