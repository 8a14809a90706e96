package draintest

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// ErrMalformed is wrapped by Parse's errors.
var ErrMalformed = errors.New("draintest: malformed RFC 5424 message")

// Message is one parsed RFC 5424 message. Nil values ("-") are empty.
type Message struct {
	Priority  int
	Version   int
	Timestamp time.Time
	Hostname  string
	AppName   string
	ProcID    string
	MsgID     string
	// StructuredData holds the elements in the order they came.
	StructuredData []Element
	// Msg is everything after the structured data and its space.
	Msg []byte
}

// Element is one SD-ELEMENT: its ID and its parameters in order, values
// unescaped.
type Element struct {
	ID     string
	Params []Param
}

// Param is one SD-PARAM.
type Param struct{ Name, Value string }

// Element returns the element with the given ID, or false.
func (m Message) Element(id string) (Element, bool) {
	for _, e := range m.StructuredData {
		if e.ID == id {
			return e, true
		}
	}
	return Element{}, false
}

// Map returns the element's parameters as a map (the last one of a name
// wins).
func (e Element) Map() map[string]string {
	m := make(map[string]string, len(e.Params))
	for _, p := range e.Params {
		m[p.Name] = p.Value
	}
	return m
}

// Parse parses one RFC 5424 message (without framing). It follows the
// RFC's grammar: header fields are non-empty printable ASCII tokens within
// their length limits, the timestamp is RFC 3339, structured data is "-" or
// well-formed elements with '"', '\' and ']' escaped in values.
func Parse(b []byte) (Message, error) {
	var m Message
	p := parser{b: b}
	if !p.byte('<') {
		return m, p.fail("PRI")
	}
	pri, ok := p.number(3)
	if !ok || pri > 191 || !p.byte('>') {
		return m, p.fail("PRI")
	}
	m.Priority = pri
	v, ok := p.number(2)
	if !ok || v == 0 || !p.byte(' ') {
		return m, p.fail("VERSION")
	}
	m.Version = v
	ts, ok := p.field(64)
	if !ok {
		return m, p.fail("TIMESTAMP")
	}
	if ts != "" {
		t, err := time.Parse(time.RFC3339Nano, ts)
		if err != nil {
			return m, p.fail("TIMESTAMP")
		}
		m.Timestamp = t
	}
	fields := []struct {
		dst  *string
		max  int
		name string
	}{{&m.Hostname, 255, "HOSTNAME"}, {&m.AppName, 48, "APP-NAME"}, {&m.ProcID, 128, "PROCID"}, {&m.MsgID, 32, "MSGID"}}
	for _, f := range fields {
		if *f.dst, ok = p.field(f.max); !ok {
			return m, p.fail(f.name)
		}
	}
	if p.byte('-') {
		if !p.end() && !p.byte(' ') {
			return m, p.fail("STRUCTURED-DATA")
		}
	} else {
		for p.peek('[') {
			e, ok := p.element()
			if !ok {
				return m, p.fail("STRUCTURED-DATA")
			}
			m.StructuredData = append(m.StructuredData, e)
		}
		if m.StructuredData == nil || !p.end() && !p.byte(' ') {
			return m, p.fail("STRUCTURED-DATA")
		}
	}
	m.Msg = append([]byte(nil), p.b[p.i:]...)
	return m, nil
}

type parser struct {
	b []byte
	i int
}

func (p *parser) fail(what string) error {
	return fmt.Errorf("%w: bad %s at offset %d", ErrMalformed, what, p.i)
}

func (p *parser) end() bool { return p.i >= len(p.b) }

func (p *parser) peek(c byte) bool { return p.i < len(p.b) && p.b[p.i] == c }

func (p *parser) byte(c byte) bool {
	if p.peek(c) {
		p.i++
		return true
	}
	return false
}

// number reads 1 to max digits without a leading zero (except "0").
func (p *parser) number(max int) (int, bool) {
	start := p.i
	for p.i < len(p.b) && p.i-start < max && p.b[p.i] >= '0' && p.b[p.i] <= '9' {
		p.i++
	}
	s := p.b[start:p.i]
	if len(s) == 0 || len(s) > 1 && s[0] == '0' {
		return 0, false
	}
	n, err := strconv.Atoi(string(s))
	return n, err == nil
}

// field reads a header token of printable ASCII followed by a space; "-"
// is the nil value.
func (p *parser) field(max int) (string, bool) {
	start := p.i
	for p.i < len(p.b) && p.b[p.i] > ' ' && p.b[p.i] <= '~' {
		p.i++
	}
	s := string(p.b[start:p.i])
	if s == "" || len(s) > max || !p.byte(' ') {
		return "", false
	}
	if s == "-" {
		s = ""
	}
	return s, true
}

// name reads an SD-NAME: 1 to 32 printable ASCII except '=', ' ', ']', '"'.
func (p *parser) name() (string, bool) {
	start := p.i
	for p.i < len(p.b) {
		c := p.b[p.i]
		if c <= ' ' || c > '~' || c == '=' || c == ']' || c == '"' {
			break
		}
		p.i++
	}
	n := p.i - start
	return string(p.b[start:p.i]), n > 0 && n <= 32
}

func (p *parser) element() (Element, bool) {
	var e Element
	p.i++ // '['
	id, ok := p.name()
	if !ok {
		return e, false
	}
	e.ID = id
	for p.byte(' ') {
		name, ok := p.name()
		if !ok || !p.byte('=') || !p.byte('"') {
			return e, false
		}
		var v bytes.Buffer
		for {
			if p.end() {
				return e, false
			}
			c := p.b[p.i]
			p.i++
			if c == '"' {
				break
			}
			if c == '\\' && p.i < len(p.b) && (p.b[p.i] == '"' || p.b[p.i] == '\\' || p.b[p.i] == ']') {
				c = p.b[p.i]
				p.i++
			} else if c == ']' {
				return e, false // unescaped ']' is not allowed in a value
			}
			v.WriteByte(c)
		}
		e.Params = append(e.Params, Param{Name: name, Value: v.String()})
	}
	return e, p.byte(']')
}
