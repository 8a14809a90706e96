package discovery

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
)

// DNS is a Source that looks names up in DNS on an interval (a Poller
// underneath, with the same freshness rules).
//
// Each lookup tries, in order, and uses the first that finds anything:
//  1. the zone-specific name (WithZoneName), whose endpoints get that zone:
//     Loggregator's agents prefer routers of their own availability zone
//     this way;
//  2. the SRV name (WithSRV), whose records give targets and ports;
//  3. the general name's A and AAAA records, with the port from WithPort or
//     from the name itself ("host:port").
//
// Endpoints have Addr "ip:port" as identity and no ID.
type DNS struct {
	*Poller
	name     string
	port     string
	srv      string
	zone     string
	zoneName string
	resolver *net.Resolver
}

// WithPort sets the port DNS puts on addresses from A/AAAA records.
func WithPort(port int) Option {
	return optionFunc(func(o *options) { o.port = port })
}

// WithSRV makes DNS look up SRV records under name (for example
// "_grpc._tcp.routers.example.com.") before the A/AAAA records of the
// general name.
func WithSRV(name string) Option {
	return optionFunc(func(o *options) { o.srv = name })
}

// WithZoneName makes DNS look up name first and label its endpoints with
// zone; only when it finds nothing does DNS fall back to the general name,
// whose endpoints have no zone.
func WithZoneName(zone, name string) Option {
	return optionFunc(func(o *options) { o.zone, o.zoneName = zone, name })
}

// WithResolver sets the resolver DNS uses (default net.DefaultResolver).
func WithResolver(r *net.Resolver) Option {
	return optionFunc(func(o *options) { o.resolver = r })
}

// WithResolverAddr makes DNS ask the DNS server at addr ("host:port")
// instead of the system's, using Go's resolver.
func WithResolverAddr(addr string) Option {
	return optionFunc(func(o *options) {
		var d net.Dialer
		o.resolver = &net.Resolver{
			PreferGo: true,
			Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
				return d.DialContext(ctx, network, addr)
			},
		}
	})
}

// NewDNS starts a DNS source for name, which may carry the port
// ("routers.example.com:8082"). It reads WithPort, WithSRV, WithZoneName,
// WithResolver or WithResolverAddr, WithInterval (default 10s), WithTimeout,
// WithAllowEmpty and WithLogger. Shutdown or Close stops it.
func NewDNS(name string, opts ...Option) (*DNS, error) {
	o := buildOptions(opts)
	d := &DNS{name: name, srv: o.srv, zone: o.zone, zoneName: o.zoneName, resolver: o.resolver}
	if host, port, err := net.SplitHostPort(name); err == nil {
		d.name, d.port = host, port
	}
	if o.port > 0 {
		d.port = strconv.Itoa(o.port)
	}
	if d.name == "" && d.srv == "" {
		return nil, fmt.Errorf("%w: NewDNS needs a name", ErrInvalidConfig)
	}
	if d.port == "" && (d.srv == "" || d.zoneName != "") {
		return nil, fmt.Errorf("%w: NewDNS needs a port for A/AAAA lookups (WithPort or name:port)", ErrInvalidConfig)
	}
	if err := o.checkPolling(); err != nil {
		return nil, err
	}
	if d.resolver == nil {
		d.resolver = net.DefaultResolver
	}
	d.Poller = startPoller(d.lookup, o)
	return d, nil
}

func (d *DNS) lookup(ctx context.Context) ([]Endpoint, error) {
	var errs []error
	if d.zoneName != "" {
		eps, err := d.lookupHost(ctx, d.zoneName, d.zone)
		if len(eps) > 0 {
			return eps, nil
		}
		errs = append(errs, err)
	}
	if d.srv != "" {
		eps, err := d.lookupSRV(ctx)
		if len(eps) > 0 {
			return eps, nil
		}
		errs = append(errs, err)
	}
	if d.name != "" && d.port != "" {
		eps, err := d.lookupHost(ctx, d.name, "")
		if len(eps) > 0 {
			return eps, nil
		}
		errs = append(errs, err)
	}
	// Every name failed or was empty. "Not found" is an empty answer (the
	// Poller turns it into ErrNoEndpoints unless empty sets are allowed);
	// anything else is a failure of DNS itself.
	var fail []error
	for _, err := range errs {
		var dnsErr *net.DNSError
		if err != nil && !(errors.As(err, &dnsErr) && dnsErr.IsNotFound) {
			fail = append(fail, err)
		}
	}
	return nil, errors.Join(fail...)
}

func (d *DNS) lookupHost(ctx context.Context, name, zone string) ([]Endpoint, error) {
	ips, err := d.resolver.LookupIPAddr(ctx, name)
	if err != nil {
		return nil, err
	}
	eps := make([]Endpoint, 0, len(ips))
	for _, ip := range ips {
		eps = append(eps, Endpoint{Addr: net.JoinHostPort(ip.IP.String(), d.port), Zone: zone})
	}
	return eps, nil
}

func (d *DNS) lookupSRV(ctx context.Context) ([]Endpoint, error) {
	_, srvs, err := d.resolver.LookupSRV(ctx, "", "", d.srv)
	if err != nil {
		return nil, err
	}
	var eps []Endpoint
	for _, s := range srvs {
		port := strconv.Itoa(int(s.Port))
		target := strings.TrimSuffix(s.Target, ".")
		ips, err := d.resolver.LookupIPAddr(ctx, s.Target)
		if err != nil || len(ips) == 0 {
			// Let the dialer resolve the target later.
			eps = append(eps, Endpoint{Addr: net.JoinHostPort(target, port), Metadata: map[string]string{"target": target}})
			continue
		}
		for _, ip := range ips {
			eps = append(eps, Endpoint{Addr: net.JoinHostPort(ip.IP.String(), port), Metadata: map[string]string{"target": target}})
		}
	}
	if len(eps) == 0 {
		return nil, fmt.Errorf("discovery: SRV %s: no records", d.srv)
	}
	return eps, nil
}
