package etcd

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/sluicelog/sluice/discovery"
)

// DefaultPrefix is the etcd key prefix that Registrar and Watcher use unless
// WithPrefix says otherwise. Keys below it follow Loggregator's
// /doppler/meta/<zone>/<job>/<id> layout: <prefix>/<zone>/<job>/<id>.
const DefaultPrefix = "/sluice/meta"

// ValueVersion is the version written in registration values.
const ValueVersion = 1

// unknownZone stands for the empty zone in a key, which cannot hold an empty
// path segment without becoming ambiguous.
const unknownZone = "_"

// Registration is the JSON value stored under a registration key:
//
//	{"version":1,"endpoints":[{"id":"r1","addr":"10.0.0.5:8082","zone":"z1","metadata":{"job":"router"}}]}
//
// For compatibility with Loggregator's doppler registrations, an entry of
// "endpoints" may also be a URL string such as "tcp://10.0.0.5:3458"; it
// becomes an Endpoint whose Addr is the URL's host:port and whose
// Metadata["scheme"] is the URL's scheme.
type Registration struct {
	Version   int            `json:"version"`
	Endpoints []registeredEP `json:"endpoints"`
}

type registeredEP struct {
	discovery.Endpoint
}

type jsonEP struct {
	ID       string            `json:"id,omitempty"`
	Addr     string            `json:"addr"`
	Zone     string            `json:"zone,omitempty"`
	Metadata map[string]string `json:"metadata,omitempty"`
}

func (e registeredEP) MarshalJSON() ([]byte, error) {
	return json.Marshal(jsonEP(e.Endpoint))
}

func (e *registeredEP) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		u, err := url.Parse(s)
		if err != nil || u.Host == "" {
			e.Endpoint = discovery.Endpoint{Addr: s}
			return nil
		}
		e.Endpoint = discovery.Endpoint{Addr: u.Host, Metadata: map[string]string{"scheme": u.Scheme}}
		return nil
	}
	var j jsonEP
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	e.Endpoint = discovery.Endpoint(j)
	return nil
}

// registrationKey returns <prefix>/<zone>/<job>/<id>.
func registrationKey(prefix, zone, job, id string) string {
	if zone == "" {
		zone = unknownZone
	}
	return strings.TrimSuffix(prefix, "/") + "/" + zone + "/" + job + "/" + id
}

func encodeRegistration(ep discovery.Endpoint) (string, error) {
	b, err := json.Marshal(Registration{Version: ValueVersion, Endpoints: []registeredEP{{ep}}})
	return string(b), err
}

// decodeRegistration reads the endpoints of one key. Zone and ID missing
// from the value are taken from the key (<prefix>/<zone>/<job>/<id>) when the
// value holds a single endpoint.
func decodeRegistration(prefix, key string, value []byte) ([]discovery.Endpoint, error) {
	var r Registration
	if err := json.Unmarshal(value, &r); err != nil {
		return nil, fmt.Errorf("etcd: key %q: %w", key, err)
	}
	if r.Version != ValueVersion {
		return nil, fmt.Errorf("etcd: key %q: unsupported version %d", key, r.Version)
	}
	if len(r.Endpoints) == 0 {
		return nil, errors.New("etcd: key " + key + ": no endpoints")
	}
	rest := strings.TrimPrefix(strings.TrimPrefix(key, strings.TrimSuffix(prefix, "/")), "/")
	parts := strings.Split(rest, "/")
	var keyZone, keyID string
	if len(parts) == 3 {
		keyZone, keyID = parts[0], parts[2]
		if keyZone == unknownZone {
			keyZone = ""
		}
	}
	eps := make([]discovery.Endpoint, 0, len(r.Endpoints))
	for _, re := range r.Endpoints {
		ep := re.Endpoint
		if ep.Addr == "" {
			return nil, fmt.Errorf("etcd: key %q: endpoint without addr", key)
		}
		if ep.Zone == "" {
			ep.Zone = keyZone
		}
		if ep.ID == "" && len(r.Endpoints) == 1 {
			ep.ID = keyID
		}
		eps = append(eps, ep)
	}
	return eps, nil
}
