package envelope

// Kind says which of the five message types an envelope carries.
type Kind uint8

// The kinds of envelope. KindUnknown is an envelope whose message is unset.
const (
	KindUnknown Kind = iota
	KindLog
	KindCounter
	KindGauge
	KindTimer
	KindEvent
)

var kindNames = [...]string{"unknown", "log", "counter", "gauge", "timer", "event"}

// String returns the lower-case name of the kind ("log", "counter", ...),
// the same words the gateway's query parameters use.
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "unknown"
}

// Kind returns the kind of message e carries; KindUnknown for a nil envelope
// or one with no message set.
func (e *Envelope) Kind() Kind {
	switch e.GetMessage().(type) {
	case *Envelope_Log:
		return KindLog
	case *Envelope_Counter:
		return KindCounter
	case *Envelope_Gauge:
		return KindGauge
	case *Envelope_Timer:
		return KindTimer
	case *Envelope_Event:
		return KindEvent
	}
	return KindUnknown
}

// SourceID returns e's source ID ("" for a nil envelope). It is GetSourceId
// under the name Go code usually gives it.
func (e *Envelope) SourceID() string { return e.GetSourceId() }

// Kind returns the kind of message the selector asks for; KindUnknown when
// the selector has none (such a selector is invalid in a request).
func (s *Selector) Kind() Kind {
	switch s.GetMessage().(type) {
	case *Selector_Log:
		return KindLog
	case *Selector_Counter:
		return KindCounter
	case *Selector_Gauge:
		return KindGauge
	case *Selector_Timer:
		return KindTimer
	case *Selector_Event:
		return KindEvent
	}
	return KindUnknown
}
