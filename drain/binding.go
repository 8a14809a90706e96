package drain

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"

	"github.com/sluicelog/sluice/envelope"
)

// ErrInvalidBinding is wrapped by the error for a binding that cannot be
// parsed: no source ID, a URL that does not parse, an unknown scheme, no
// host or port, an unknown drain-type or drain-data.
var ErrInvalidBinding = errors.New("drain: invalid binding")

// ErrTooManyDrains is wrapped by the error for a binding refused because
// its source already has the most drains allowed (WithMaxDrainsPerSource)
// or the Manager has the most connections allowed (WithMaxConnections).
var ErrTooManyDrains = errors.New("drain: too many drains")

// Binding says that the envelopes of one source go to one drain.
type Binding struct {
	// SourceID is the envelopes' source ID (an application's GUID).
	SourceID string
	// URL is the drain: syslog://host:port (TCP), syslog-tls://host:port
	// or https://host[:port]/path. Its query may say what the drain wants
	// (see the package documentation): drain-type, drain-data,
	// include-metrics-deprecated.
	URL string
	// Hostname, when set, is the HOSTNAME of messages whose envelopes do not
	// name an organization, space and application in their tags; otherwise
	// the Manager's (WithHostname).
	Hostname string
}

// Source supplies the current bindings. An error wrapping
// ErrInvalidBinding alongside bindings is a partial answer: the bindings
// are used and the error's parts counted as refused. Any other error means
// the Source could not answer: the Manager keeps the bindings it has.
type Source interface {
	Bindings(ctx context.Context) ([]Binding, error)
}

// SourceFunc adapts a function to Source.
type SourceFunc func(ctx context.Context) ([]Binding, error)

// Bindings calls f(ctx).
func (f SourceFunc) Bindings(ctx context.Context) ([]Binding, error) { return f(ctx) }

// FileSource reads bindings from a text file each time it is asked, so a
// Manager polling it picks up edits: one binding per line, "source-id
// drain-url [hostname]" separated by white space; empty lines and lines
// starting with '#' are skipped. A line with one field, or more than three,
// becomes a binding the Manager refuses (and counts).
type FileSource string

// Bindings reads and parses the file.
func (f FileSource) Bindings(context.Context) ([]Binding, error) {
	b, err := os.ReadFile(string(f))
	if err != nil {
		return nil, fmt.Errorf("drain: bindings file: %w", err)
	}
	return ParseBindings(b), nil
}

// ParseBindings parses the FileSource format.
func ParseBindings(b []byte) []Binding {
	var out []Binding
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 || strings.HasPrefix(f[0], "#") {
			continue
		}
		bd := Binding{SourceID: f[0]}
		switch {
		case len(f) == 2:
			bd.URL = f[1]
		case len(f) == 3:
			bd.URL, bd.Hostname = f[1], f[2]
		case len(f) > 3:
			bd.URL = strings.Join(f[1:], " ") // refused: a URL has no spaces
		}
		out = append(out, bd)
	}
	return out
}

// kinds is a set of envelope kinds, one bit per envelope.Kind.
type kinds uint8

func kindsOf(ks ...envelope.Kind) kinds {
	var s kinds
	for _, k := range ks {
		s |= 1 << k
	}
	return s
}

func (s kinds) has(k envelope.Kind) bool { return s&(1<<k) != 0 }

var (
	logsEvents  = kindsOf(envelope.KindLog, envelope.KindEvent)
	metricKinds = kindsOf(envelope.KindCounter, envelope.KindGauge)
	allKinds    = kindsOf(envelope.KindLog, envelope.KindCounter, envelope.KindGauge, envelope.KindTimer, envelope.KindEvent)
)

// target is a parsed binding.
type target struct {
	key      string // identity: source ID, URL and hostname
	sourceID string
	hostname string
	url      *url.URL
	name     string // the URL with any password redacted, for stats and reports
	kinds    kinds
}

func invalid(b Binding, format string, args ...any) error {
	return fmt.Errorf("%w: source %q: %s", ErrInvalidBinding, b.SourceID, fmt.Sprintf(format, args...))
}

// parseBinding checks b and works out what its drain wants, following
// Loggregator's rules: no parameter means logs and events; drain-type=logs
// logs only, metrics counters and gauges, all logs, counters and gauges;
// drain-data (which wins over drain-type) logs (with events), metrics,
// traces (timers) or all; include-metrics-deprecated (any value) all.
func parseBinding(b Binding) (target, error) {
	if b.SourceID == "" {
		return target{}, invalid(b, "no source ID")
	}
	if b.URL == "" {
		return target{}, invalid(b, "no drain URL")
	}
	if strings.ContainsAny(b.URL, " \t\r\n") {
		return target{}, invalid(b, "drain URL contains white space")
	}
	u, err := url.Parse(b.URL)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the message would repeat the URL, password included
		}
		return target{}, invalid(b, "drain URL: %v", err)
	}
	t := target{sourceID: b.SourceID, hostname: b.Hostname, url: u, name: u.Redacted(), kinds: logsEvents}
	switch u.Scheme {
	case schemeSyslog, schemeSyslogTLS:
		if _, port, err := net.SplitHostPort(u.Host); err != nil || port == "" || u.Hostname() == "" {
			return target{}, invalid(b, "drain %s needs host:port", t.name)
		}
	case schemeHTTPS:
		if u.Hostname() == "" {
			return target{}, invalid(b, "drain %s has no host", t.name)
		}
	default:
		return target{}, invalid(b, "drain %s: scheme must be syslog, syslog-tls or https", t.name)
	}
	q := u.Query()
	switch q.Get("drain-type") {
	case "":
	case "logs":
		t.kinds = kindsOf(envelope.KindLog)
	case "metrics":
		t.kinds = metricKinds
	case "all":
		t.kinds = kindsOf(envelope.KindLog) | metricKinds
	default:
		return target{}, invalid(b, "drain %s: drain-type must be logs, metrics or all", t.name)
	}
	switch q.Get("drain-data") {
	case "":
	case "logs":
		t.kinds = logsEvents
	case "metrics":
		t.kinds = metricKinds
	case "traces":
		t.kinds = kindsOf(envelope.KindTimer)
	case "all":
		t.kinds = allKinds
	default:
		return target{}, invalid(b, "drain %s: drain-data must be logs, metrics, traces or all", t.name)
	}
	if q.Get("include-metrics-deprecated") != "" {
		t.kinds = allKinds
	}
	t.key = b.SourceID + "\x00" + b.URL + "\x00" + b.Hostname
	return t, nil
}

// id names the drain in stats.
func (t target) id() string {
	if t.hostname == "" {
		return t.sourceID + " " + t.name
	}
	return t.sourceID + " " + t.name + " " + t.hostname
}

const (
	schemeSyslog    = "syslog"
	schemeSyslogTLS = "syslog-tls"
	schemeHTTPS     = "https"
)
