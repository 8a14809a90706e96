package envelope

import (
	"errors"
	"fmt"
)

// Errors for egress requests Loggregator rejects; a server answers both with
// codes.InvalidArgument. Test for them with errors.Is.
var (
	// ErrNoSelectors: the request has neither selectors nor a legacy
	// selector, so it asks for nothing.
	ErrNoSelectors = errors.New("envelope: selectors cannot be empty")
	// ErrSelectorWithoutMessage: a selector names no message type.
	ErrSelectorWithoutMessage = errors.New("envelope: selector must name a message type")
)

// Request is what EgressRequest and EgressBatchRequest have in common.
type Request interface {
	GetShardId() string
	GetLegacySelector() *Selector
	GetSelectors() []*Selector
	GetDeterministicName() string
}

var (
	_ Request = (*EgressRequest)(nil)
	_ Request = (*EgressBatchRequest)(nil)
)

// RequestSelectors returns the selectors a request asks for, validated as
// Loggregator validates them: the legacy selector is used only when
// selectors is empty; no selector at all is ErrNoSelectors; a selector with
// no message type is ErrSelectorWithoutMessage (wrapped with its index).
func RequestSelectors(r Request) ([]*Selector, error) {
	sels := r.GetSelectors()
	if len(sels) == 0 {
		if l := r.GetLegacySelector(); l != nil {
			sels = []*Selector{l}
		}
	}
	if len(sels) == 0 {
		return nil, ErrNoSelectors
	}
	for i, s := range sels {
		if s.Kind() == KindUnknown {
			return nil, fmt.Errorf("%w (selector %d)", ErrSelectorWithoutMessage, i)
		}
	}
	return sels, nil
}

// Matching, in one place for decoded envelopes and wire bytes:
//
//   - A selector's source_id, when not empty, must equal the envelope's.
//   - The selector's message type must equal the envelope's kind.
//   - A counter selector with a name matches only counters of that name; an
//     empty name matches every counter.
//   - A gauge selector with names matches a gauge that has every one of
//     those names among its metrics (it may have more). With no names it
//     matches every gauge. A gauge that has only some of the names does not
//     match: a consumer asking for {cpu, memory} gets whole readings that
//     carry both.
//   - Log, timer and event selectors match every envelope of their kind.
//   - A selector with no message type matches nothing.
//
// A request with several selectors matches an envelope when any one of them
// does; the envelope is delivered once, however many match.

// match is the one implementation of selector matching. Gauge names come
// from r when it is not nil, else from metrics (concrete types, not an
// interface, so that a Route on the caller's stack does not escape).
func match(s *Selector, sourceID string, kind Kind, name string, r *Route, metrics map[string]*GaugeValue) bool {
	if s.GetSourceId() != "" && s.GetSourceId() != sourceID {
		return false
	}
	switch m := s.GetMessage().(type) {
	case *Selector_Log:
		return kind == KindLog
	case *Selector_Counter:
		return kind == KindCounter && (m.Counter.GetName() == "" || m.Counter.GetName() == name)
	case *Selector_Gauge:
		if kind != KindGauge {
			return false
		}
		for _, n := range m.Gauge.GetNames() {
			if r != nil {
				if !r.HasGaugeName(n) {
					return false
				}
			} else if _, ok := metrics[n]; !ok {
				return false
			}
		}
		return true
	case *Selector_Timer:
		return kind == KindTimer
	case *Selector_Event:
		return kind == KindEvent
	}
	return false
}

// Matches reports whether envelope e matches selector s.
func (s *Selector) Matches(e *Envelope) bool {
	return match(s, e.GetSourceId(), e.Kind(), e.GetCounter().GetName(), nil, e.GetGauge().GetMetrics())
}

// MatchesRoute reports whether the envelope r was read from matches s. It
// agrees with Matches on the decoded envelope and does not allocate.
func (s *Selector) MatchesRoute(r *Route) bool {
	name := ""
	if r.Kind == KindCounter {
		name = r.Name
	}
	return match(s, r.SourceID, r.Kind, name, r, nil)
}

// MatchAny reports whether any of sels matches e.
func MatchAny(sels []*Selector, e *Envelope) bool {
	for _, s := range sels {
		if s.Matches(e) {
			return true
		}
	}
	return false
}
