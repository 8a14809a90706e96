package discoveryflag

import (
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"strings"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/sluicelog/sluice/discovery"
	"github.com/sluicelog/sluice/discovery/etcd"
)

// ParseRouters parses a comma-separated list of addr[@zone] into endpoints,
// e.g. "10.0.0.5:8082@z1,10.0.0.6:8082@z2".
func ParseRouters(s string) ([]discovery.Endpoint, error) {
	var eps []discovery.Endpoint
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		addr, zone, _ := strings.Cut(item, "@")
		if _, _, err := net.SplitHostPort(addr); err != nil {
			return nil, fmt.Errorf("routers: %q: %w", item, err)
		}
		eps = append(eps, discovery.Endpoint{Addr: addr, Zone: zone})
	}
	if len(eps) == 0 {
		return nil, errors.New("routers: empty list")
	}
	return eps, nil
}

// Etcd holds the -etcd and -etcd-prefix flags.
type Etcd struct {
	Endpoints string
	Prefix    string

	client *clientv3.Client
}

// Flags registers -etcd and -etcd-prefix.
func (e *Etcd) Flags(fs *flag.FlagSet, what string) {
	fs.StringVar(&e.Endpoints, "etcd", "", "comma-separated etcd endpoints "+what)
	fs.StringVar(&e.Prefix, "etcd-prefix", etcd.DefaultPrefix, "etcd key prefix of router registrations")
}

// Enabled reports whether -etcd was given.
func (e *Etcd) Enabled() bool { return e.Endpoints != "" }

// Client returns the etcd client for -etcd, creating it once.
func (e *Etcd) Client() (*clientv3.Client, error) {
	if e.client != nil {
		return e.client, nil
	}
	c, err := clientv3.New(etcd.ClientConfig(strings.Split(e.Endpoints, ",")...))
	if err != nil {
		return nil, fmt.Errorf("etcd: %w", err)
	}
	e.client = c
	return c, nil
}

// Close closes the client, if any.
func (e *Etcd) Close() error {
	if e.client == nil {
		return nil
	}
	return e.client.Close()
}

// Routers is the -routers / -dns / -etcd choice of a program that finds
// routers.
type Routers struct {
	List      string
	DNS       string
	DNSServer string
	Etcd      Etcd
}

// Flags registers -routers, -dns, -dns-server, -etcd and -etcd-prefix.
func (r *Routers) Flags(fs *flag.FlagSet) {
	fs.StringVar(&r.List, "routers", "", "comma-separated router addresses addr[@zone] (or use -dns or -etcd)")
	fs.StringVar(&r.DNS, "dns", "", "name:port whose A/AAAA records are the routers, looked up every 10s (instead of -routers)")
	fs.StringVar(&r.DNSServer, "dns-server", "", "host:port of the DNS server -dns asks (default: the system's resolver)")
	r.Etcd.Flags(fs, "to watch for router registrations (instead of -routers)")
}

// Source returns the discovery source of the flags and a function that
// releases it.
func (r *Routers) Source(logger *slog.Logger) (discovery.Source, func(), error) {
	given := 0
	for _, set := range []bool{r.List != "", r.DNS != "", r.Etcd.Enabled()} {
		if set {
			given++
		}
	}
	switch {
	case given > 1:
		return nil, nil, errors.New("give one of -routers, -dns and -etcd")
	case r.DNSServer != "" && r.DNS == "":
		return nil, nil, errors.New("-dns-server needs -dns")
	case r.List != "":
		eps, err := ParseRouters(r.List)
		if err != nil {
			return nil, nil, err
		}
		return discovery.NewStatic(eps...), func() {}, nil
	case r.DNS != "":
		opts := []discovery.Option{discovery.WithLogger(logger)}
		if r.DNSServer != "" {
			opts = append(opts, discovery.WithResolverAddr(r.DNSServer))
		}
		d, err := discovery.NewDNS(r.DNS, opts...)
		if err != nil {
			return nil, nil, err
		}
		return d, func() { d.Close() }, nil
	case r.Etcd.Enabled():
		c, err := r.Etcd.Client()
		if err != nil {
			return nil, nil, err
		}
		w, err := etcd.NewWatcher(c, etcd.WithPrefix(r.Etcd.Prefix), etcd.WithLogger(logger))
		if err != nil {
			r.Etcd.Close()
			return nil, nil, err
		}
		return w, func() { w.Close(); r.Etcd.Close() }, nil
	default:
		return nil, nil, errors.New("-routers, -dns or -etcd is required")
	}
}
