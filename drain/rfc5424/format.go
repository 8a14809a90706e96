package rfc5424

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/sluicelog/sluice/envelope"
)

// ErrUnformattable is wrapped by the error returned for an envelope that
// cannot become a message: no message at all, or a field too long.
var ErrUnformattable = errors.New("rfc5424: envelope cannot be formatted")

// ErrInvalidConfig is wrapped by New's error for an unusable hostname.
var ErrInvalidConfig = errors.New("rfc5424: invalid configuration")

// Structured data IDs; 47450 is the Cloud Foundry Foundation's private
// enterprise number.
const (
	TagsID    = "tags@47450"
	CounterID = "counter@47450"
	GaugeID   = "gauge@47450"
	TimerID   = "timer@47450"
	EventID   = "event@47450"
)

// Limits Loggregator enforces (RFC 5424 allows 255, 48 and 128 octets).
const (
	MaxHostname   = 255
	MaxAppName    = 48
	MaxInstanceID = 128
	maxProcID     = 128
	maxSDName     = 32
	maxHostPart   = 63
	maxInstance   = 36
)

// Priorities: facility user (1) times 8 plus severity.
const (
	PriorityInfo  = 14 // user.info: stdout logs and metrics
	PriorityError = 11 // user.err: stderr logs
)

const timeLayout = "2006-01-02T15:04:05.999999-07:00"

// Formatter turns envelopes into RFC 5424 messages. The zero value formats
// with "-" as the default hostname. Not safe for concurrent use.
type Formatter struct {
	hostname string
	keys     []string // scratch: tag keys or gauge names, sorted
	names    []string
	msg      []byte // scratch: one message, for octet counting
}

// New returns a Formatter whose messages carry hostname when an envelope's
// tags do not name an organization, space or application. hostname must
// be at most 255 printable ASCII characters without spaces.
func New(hostname string) (*Formatter, error) {
	if len(hostname) > MaxHostname {
		return nil, fmt.Errorf("%w: hostname longer than %d characters", ErrInvalidConfig, MaxHostname)
	}
	for i := 0; i < len(hostname); i++ {
		if c := hostname[i]; c <= ' ' || c > '~' {
			return nil, fmt.Errorf("%w: hostname %q has a character that is not printable ASCII", ErrInvalidConfig, hostname)
		}
	}
	return &Formatter{hostname: hostname}, nil
}

// Count returns how many messages e becomes: one per gauge metric, one for
// any other kind, 0 for an envelope without a message.
func Count(e *envelope.Envelope) int {
	switch e.GetMessage().(type) {
	case *envelope.Envelope_Gauge:
		return len(e.GetGauge().GetMetrics())
	case nil:
		return 0
	default:
		return 1
	}
}

// Append appends the messages of e to dst, each ending in a newline, and
// returns the extended slice and the number of messages. On error dst is
// returned unchanged.
func (f *Formatter) Append(dst []byte, e *envelope.Envelope) ([]byte, int, error) {
	return f.appendAll(dst, e, false)
}

// AppendOctetCounted is Append with each message framed as "LEN SP MSG"
// (RFC 6587 octet counting).
func (f *Formatter) AppendOctetCounted(dst []byte, e *envelope.Envelope) ([]byte, int, error) {
	return f.appendAll(dst, e, true)
}

func (f *Formatter) appendAll(dst []byte, e *envelope.Envelope, framed bool) ([]byte, int, error) {
	if err := check(e); err != nil {
		return dst, 0, err
	}
	if g := e.GetGauge(); g != nil {
		f.names = f.names[:0]
		for name := range g.GetMetrics() {
			f.names = append(f.names, name)
		}
		slices.Sort(f.names)
		for _, name := range f.names {
			dst = f.one(dst, e, name, framed)
		}
		clear(f.names)
		return dst, len(f.names), nil
	}
	return f.one(dst, e, "", framed), 1, nil
}

func check(e *envelope.Envelope) error {
	switch {
	case e.GetMessage() == nil:
		return fmt.Errorf("%w: no message", ErrUnformattable)
	case e.GetGauge() != nil && len(e.GetGauge().GetMetrics()) == 0:
		return fmt.Errorf("%w: gauge without metrics", ErrUnformattable)
	case len(e.GetSourceId()) > MaxAppName:
		return fmt.Errorf("%w: source ID longer than %d characters", ErrUnformattable, MaxAppName)
	case len(e.GetInstanceId()) > MaxInstanceID:
		return fmt.Errorf("%w: instance ID longer than %d characters", ErrUnformattable, MaxInstanceID)
	}
	return nil
}

// one appends one message; gauge names the gauge metric for gauges.
func (f *Formatter) one(dst []byte, e *envelope.Envelope, gauge string, framed bool) []byte {
	if !framed {
		return f.message(dst, e, gauge)
	}
	f.msg = f.message(f.msg[:0], e, gauge)
	dst = strconv.AppendInt(dst, int64(len(f.msg)), 10)
	dst = append(dst, ' ')
	return append(dst, f.msg...)
}

func (f *Formatter) message(dst []byte, e *envelope.Envelope, gauge string) []byte {
	log := e.GetLog()
	pri := PriorityInfo
	if log != nil && log.GetType() == envelope.Log_ERR {
		pri = PriorityError
	}
	dst = append(dst, '<')
	dst = strconv.AppendInt(dst, int64(pri), 10)
	dst = append(dst, ">1 "...)
	dst = time.Unix(0, e.GetTimestamp()).UTC().AppendFormat(dst, timeLayout)
	dst = append(dst, ' ')
	dst = f.appendHostname(dst, e.GetTags())
	dst = append(dst, ' ')
	dst = appendNil(dst, e.GetSourceId())
	dst = append(dst, ' ')
	if log != nil {
		dst = appendLogProcID(dst, e.GetTags()["source_type"], e.GetInstanceId())
	} else {
		dst = append(dst, '[')
		dst = appendPrintable(dst, e.GetInstanceId())
		dst = append(dst, ']')
	}
	dst = append(dst, " - "...)
	n := len(dst)
	switch m := e.GetMessage().(type) {
	case *envelope.Envelope_Counter:
		dst = append(dst, "["+CounterID...)
		dst = appendParam(dst, "name", m.Counter.GetName())
		dst = appendUintParam(dst, "total", m.Counter.GetTotal())
		dst = appendUintParam(dst, "delta", m.Counter.GetDelta())
		dst = append(dst, ']')
	case *envelope.Envelope_Gauge:
		v := m.Gauge.GetMetrics()[gauge]
		dst = append(dst, "["+GaugeID...)
		dst = appendParam(dst, "name", gauge)
		dst = strconv.AppendFloat(appendKey(dst, "value"), v.GetValue(), 'g', -1, 64)
		dst = append(dst, '"')
		dst = appendParam(dst, "unit", v.GetUnit())
		dst = append(dst, ']')
	case *envelope.Envelope_Timer:
		dst = append(dst, "["+TimerID...)
		dst = appendParam(dst, "name", m.Timer.GetName())
		dst = appendIntParam(dst, "start", m.Timer.GetStart())
		dst = appendIntParam(dst, "stop", m.Timer.GetStop())
		dst = append(dst, ']')
	case *envelope.Envelope_Event:
		dst = append(dst, "["+EventID...)
		dst = appendParam(dst, "title", m.Event.GetTitle())
		dst = appendParam(dst, "body", m.Event.GetBody())
		dst = append(dst, ']')
	}
	dst = f.appendTags(dst, e.GetTags())
	if len(dst) == n {
		dst = append(dst, '-')
	}
	dst = append(dst, ' ')
	if log == nil {
		return append(dst, '\n')
	}
	p := log.GetPayload()
	for len(p) > 0 {
		i := 0
		for i < len(p) && p[i] != 0 {
			i++
		}
		dst = append(dst, p[:i]...)
		if i == len(p) {
			break
		}
		p = p[i+1:]
	}
	if len(dst) == 0 || dst[len(dst)-1] != '\n' {
		dst = append(dst, '\n')
	}
	return dst
}

func appendNil(dst []byte, s string) []byte {
	if s == "" {
		return append(dst, '-')
	}
	return appendPrintable(dst, s)
}

// appendPrintable appends s with every byte that is not printable ASCII
// or is a space replaced by '-', so a header field stays one token.
func appendPrintable(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c > '~' {
			c = '-'
		}
		dst = append(dst, c)
	}
	return dst
}

// appendHostname writes org.space.app from the tags when any of them is
// present, else the default hostname.
func (f *Formatter) appendHostname(dst []byte, tags map[string]string) []byte {
	org, okOrg := tags["organization_name"]
	space, okSpace := tags["space_name"]
	app, okApp := tags["app_name"]
	if !okOrg && !okSpace && !okApp {
		return appendNil(dst, f.hostname)
	}
	dst = appendHostPart(dst, org)
	dst = append(dst, '.')
	dst = appendHostPart(dst, space)
	dst = append(dst, '.')
	return appendHostPart(dst, app)
}

// appendHostPart writes s with runs of white space turned into one dash,
// everything but ASCII letters, digits and dashes removed, trailing dashes
// removed, and the result cut to 63 characters (Loggregator's order).
func appendHostPart(dst []byte, s string) []byte {
	start := len(dst)
	space := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v':
			if !space {
				dst = append(dst, '-')
			}
			space = true
			continue
		case c == '-' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9':
			dst = append(dst, c)
		}
		space = false
	}
	for len(dst) > start && dst[len(dst)-1] == '-' {
		dst = dst[:len(dst)-1]
	}
	if len(dst)-start > maxHostPart {
		dst = dst[:start+maxHostPart]
	}
	return dst
}

// appendLogProcID writes [SOURCE_TYPE/INSTANCE] or [SOURCE_TYPE], keeping
// the whole within 128 characters as Loggregator does: the instance is cut
// to 36 characters first, then the source type.
func appendLogProcID(dst []byte, sourceType, instance string) []byte {
	max := maxProcID - 2
	if instance != "" {
		max--
		if len(instance)+len(sourceType) > max {
			instance = instance[:min(len(instance), maxInstance)]
		}
	}
	if len(instance)+len(sourceType) > max {
		sourceType = sourceType[:max-len(instance)]
	}
	dst = append(dst, '[')
	for i := 0; i < len(sourceType); i++ {
		c := sourceType[i]
		if c >= 'a' && c <= 'z' {
			c -= 'a' - 'A'
		}
		if c <= ' ' || c > '~' {
			c = '-'
		}
		dst = append(dst, c)
	}
	if instance != "" {
		dst = append(dst, '/')
		dst = appendPrintable(dst, instance)
	}
	return append(dst, ']')
}

func (f *Formatter) appendTags(dst []byte, tags map[string]string) []byte {
	if len(tags) == 0 {
		return dst
	}
	f.keys = f.keys[:0]
	for k := range tags {
		f.keys = append(f.keys, k)
	}
	slices.Sort(f.keys)
	dst = append(dst, "["+TagsID...)
	for _, k := range f.keys {
		dst = append(dst, ' ')
		dst = appendSDName(dst, k)
		dst = append(dst, `="`...)
		dst = appendValue(dst, tags[k])
		dst = append(dst, '"')
	}
	clear(f.keys)
	return append(dst, ']')
}

// appendKey writes ` name="`; the caller writes the value and the quote.
func appendKey(dst []byte, name string) []byte {
	dst = append(dst, ' ')
	dst = append(dst, name...)
	return append(dst, `="`...)
}

func appendParam(dst []byte, name, value string) []byte {
	return append(appendValue(appendKey(dst, name), value), '"')
}

func appendUintParam(dst []byte, name string, v uint64) []byte {
	return append(strconv.AppendUint(appendKey(dst, name), v, 10), '"')
}

func appendIntParam(dst []byte, name string, v int64) []byte {
	return append(strconv.AppendInt(appendKey(dst, name), v, 10), '"')
}

// appendSDName writes a valid SD-NAME: bad bytes become '_', at most 32.
func appendSDName(dst []byte, s string) []byte {
	if s == "" {
		return append(dst, '_')
	}
	for i := 0; i < len(s) && i < maxSDName; i++ {
		c := s[i]
		if c <= ' ' || c > '~' || c == '=' || c == ']' || c == '"' {
			c = '_'
		}
		dst = append(dst, c)
	}
	return dst
}

// appendValue writes a PARAM-VALUE with '"', '\' and ']' escaped.
func appendValue(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '"', '\\', ']':
			dst = append(dst, '\\', c)
		default:
			dst = append(dst, c)
		}
	}
	return dst
}
